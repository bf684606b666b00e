import test from 'ava';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import pty from 'node-pty';
import { jsonLine, resolveLogFormat, textLine } from '../../controller/log-format.ts';
import { freePort } from '../helpers/cli-server.ts';
import { CLI, tmpDir } from '../helpers/paths.ts';
import { waitFor } from '../helpers/wait.ts';

// The reconciliation log on stderr: text a person reads at a terminal, JSON lines for a pipe (issue 15 item 9).

const line = { ts: Date.UTC(2026, 11, 1, 12, 3, 4), level: 'warn' as const, agent: 'alpha', event: 'apply-failed', message: 'apply of abc1234 failed:\x1b[2J boom\nsecond line', data: { revision: 'abc' } };

test('text: time, agent, event, message; the level when not info; controls neutralised; colours only when asked', (t) => {
  const plain = textLine(line, { color: false });
  t.regex(plain, /^\d\d:\d\d:\d\d alpha {6}apply-failed {7}WARN apply of abc1234 failed: \[2J boom\n {4}second line\n$/);
  t.false(plain.includes('\x1b'), 'no escape sequence from the message reaches the terminal');
  t.true(textLine(line, { color: true }).includes('\x1b[33m'), 'warnings in yellow on a colour terminal');
  t.deepEqual(JSON.parse(jsonLine(line)), { ts: '2026-12-01T12:03:04.000Z', level: 'warn', agent: 'alpha', event: 'apply-failed', msg: line.message, revision: 'abc' });
  t.is(resolveLogFormat(undefined, true), 'text');
  t.is(resolveLogFormat('auto', false), 'json');
  t.is(resolveLogFormat('json', true), 'json');
  t.throws(() => resolveLogFormat('yaml', true), { message: /--log-format must be auto, json or text/ });
});

async function serveUntilListening(run: (state: string, port: number) => { output: () => string; kill: () => Promise<void> }): Promise<string> {
  const state = tmpDir('hh-logfmt-');
  const port = await freePort();
  const p = run(state, port);
  try {
    await waitFor('the agent-created line', () => /agent-created|agent beta created/.test(p.output()) && p.output(), 60_000);
    return p.output();
  } finally {
    await p.kill();
    fs.rmSync(state, { recursive: true, force: true });
  }
}

const ARGS = (state: string, port: number) => [CLI, 'serve', '--state', state, '--listen', `127.0.0.1:${port}`, '--agent-command', 'idle'];
const ENV = { ...process.env, HYPERHIVE_LOG_STDERR: '1' };
/** Creates one agent through the API once the server answers, so an agent line is logged. */
async function createWhenUp(state: string, port: number): Promise<void> {
  const token = await waitFor('the operator token', () => { try { return fs.readFileSync(`${state}/operator.token`, 'utf8').trim(); } catch { return null; } }, 60_000);
  await waitFor('the agent created', async () => {
    try { return (await fetch(`http://127.0.0.1:${port}/api/agents`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"name":"beta"}' })).status === 201; } catch { return false; }
  }, 60_000);
}

test('on a pseudo-terminal serve logs text lines; piped, JSON lines', async (t) => {
  t.timeout(180_000);
  const tty = await serveUntilListening((state, port) => {
    let out = '';
    const p = pty.spawn(process.execPath, ARGS(state, port), { cols: 200, rows: 50, env: ENV as Record<string, string> });
    p.onData((d) => { out += d; });
    void createWhenUp(state, port);
    return { output: () => out, kill: () => new Promise<void>((r) => { p.onExit(() => r()); p.kill('SIGTERM'); }) };
  });
  const created = tty.split(/\r?\n/).find((l) => l.includes('agent-created'))!;
  t.truthy(created, tty.slice(0, 2000));
  t.regex(created.replace(/\x1b\[[0-9;]*m/g, ''), /^\d\d:\d\d:\d\d beta\s+agent-created\s+agent beta created by operator/);
  t.false(created.trimStart().startsWith('{'), 'not JSON on a terminal');

  const piped = await serveUntilListening((state, port) => {
    let err = '';
    const p = spawn(process.execPath, ARGS(state, port), { env: ENV, stdio: ['ignore', 'ignore', 'pipe'] });
    p.stderr.on('data', (d: Buffer) => { err += d; });
    void createWhenUp(state, port);
    return { output: () => err, kill: () => new Promise<void>((r) => { p.once('exit', () => r()); p.kill('SIGTERM'); }) };
  });
  const json = piped.split('\n').find((l) => l.includes('"agent-created"'))!;
  t.like(JSON.parse(json), { level: 'info', agent: 'beta', event: 'agent-created' });
});
