import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { NspawnRuntime } from '../../controller/runtime/nspawn.ts';
import { nsPids, uidMapOf } from '../../controller/runtime/procfs.ts';
import type { PtyHandle } from '../../controller/runtime/types.ts';
import { pushByPath, repoOf } from '../helpers/git.ts';
import { PROJECT_ROOT } from '../helpers/paths.ts';
import { createAgents, startServer, type TestServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';
import { openTerminal } from '../helpers/terminal.ts';

// The whole thing as an operator runs it: `serve --runtime nspawn --systemd off` on this machine
// (root, Debian's systemd-container), the real harness inside an unprivileged container, the
// scripted stand-in for claude as its CLI (no model), talking to the controller over 127.0.0.1.

const skip = NspawnRuntime.unavailable();
const it = skip ? test.skip : test.serial;
if (skip) test('nspawn serve: skipped', (t) => { t.log(`skipped: ${skip}`); t.pass(); });

const SCRIPTED = `${process.execPath} ${path.join(PROJECT_ROOT, 'bin', 'hyperhive.mjs')} scripted-agent`;

/** The harness of an agent as the host sees it: its environment names the agent and the container's state path. */
function harnessPid(name: string): number | null {
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (!cmd.includes('harness')) continue;
      const env = fs.readFileSync(`/proc/${d}/environ`, 'utf8').split('\0');
      if (env.includes(`HYPERHIVE_AGENT=${name}`) && env.includes('HYPERHIVE_STATE_DIR=/hyperhive/state')) return Number(d);
    } catch { /* gone */ }
  }
  return null;
}

/** Runs a command inside the agent's container through the runtime's exec (a PTY); resolves with its output and status. */
async function inside(s: TestServer, name: string, command: string[]): Promise<{ out: string; code: number | null }> {
  const pty: PtyHandle = await s.core.runtime.exec(name, { cols: 200, rows: 50, command });
  let out = '';
  pty.onData((c) => { out += Buffer.from(c).toString('utf8'); });
  const x = await new Promise<{ code: number | null }>((r) => pty.onExit(r));
  return { out: out.replace(/\r/g, ''), code: x.code };
}

let s: TestServer;
test.before(async () => {
  if (skip) return;
  s = await startServer({
    prefix: 'hh-nspawn-serve-', runtime: 'nspawn', systemd: 'off', agentCommand: undefined, agentClone: true,
    agentEnv: () => ({ HYPERHIVE_AGENT_CLI: SCRIPTED, HYPERHIVE_SCRIPT: path.join(PROJECT_ROOT, 'templates', 'demo', 'worker.json') }),
    nspawn: { minBackoffMs: 100, maxBackoffMs: 1000, nixos: false },
  });
  await createAgents(s, ['worker']);
});
test.after.always(async () => { await s?.close(); });

const agent = async () => (await s.api('GET', '/api/agents/worker')).body;

it('an agent starts in its container and its harness talks to the controller', async (t) => {
  const a = await waitFor('worker running', async () => { const v = await agent(); return v.runtime.state === 'running' && v; }, 60_000);
  t.is(a.runtime.kind, 'nspawn');
  t.true(a.runtime.isolated);
  t.is((await s.api('POST', '/api/agents/worker/messages', { body: 'status?' })).status, 201);
  // The scripted CLI, run by the harness inside, answers through MCP: the operator's inbox gets it.
  const answer = await waitFor('the worker\'s answer in the operator\'s inbox', async () => {
    const inbox = (await s.api('GET', '/api/inbox')).body as { from: string; body: string }[];
    return inbox.find((m) => m.from === 'worker' && /worker status: up/.test(m.body));
  }, 90_000);
  t.truthy(answer);
  await waitFor('the turn report', () => s.core.log.list({ agent: 'worker' }).some((e) => e.event === 'turn'), 30_000);
});

it('inside it is root; on the host its uid is unprivileged; its config is read-only (EROFS)', async (t) => {
  const pid = await waitFor('the harness process', () => harnessPid('worker'), 60_000);
  const map = uidMapOf(pid)!;
  const hostUid = Number(/^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  t.is(map.inside, 0);
  t.is(hostUid, map.outside, 'the harness is uid 0 inside, which is the first uid of its range on the host');
  t.true(hostUid >= 524288, `unprivileged on the host (${hostUid})`);
  t.is(nsPids(pid).at(-1), 2, 'PID 2 inside, under the stub init');
  const id = await inside(s, 'worker', ['id', '-u']);
  t.is(id.out.trim(), '0');
  const w = await inside(s, 'worker', ['/bin/sh', '-c', 'touch /hyperhive/config/x']);
  t.not(w.code, 0);
  t.regex(w.out, /Read-only file system/);
  t.false(fs.existsSync(path.join(s.state, 'agents', 'worker', 'config', 'x')));
});

it('its working clone fetches from the controller with the token read at the container\'s path', async (t) => {
  await waitFor('the working clone', () => fs.existsSync(path.join(s.state, 'agents', 'worker', 'state', 'repo', '.git')), 30_000);
  const r = await inside(s, 'worker', ['/bin/sh', '-c', 'cd /hyperhive/state/repo && git config credential.helper | grep -c /hyperhive/token && git fetch -q origin && git rev-parse origin/proposed']);
  t.is(r.code, 0, r.out);
  t.regex(r.out, /^1\n[0-9a-f]{40}\n?$/m);
});

it('a live write does not restart it; its state survives a config revision change; a crash inside is seen and restarted', async (t) => {
  const a0 = await waitFor('worker running', async () => { const v = await agent(); return v.runtime.state === 'running' && v; }, 60_000);
  const pid0 = await waitFor('the harness process', () => harnessPid('worker'), 60_000);
  const kept = await inside(s, 'worker', ['/bin/sh', '-c', 'echo survives > /hyperhive/state/kept.txt && cat /hyperhive/state/kept.txt']);
  t.is(kept.code, 0);

  // live: a model change takes effect at the next turn, in the same container.
  t.is((await s.api('POST', '/api/agents/worker/model', { model: 'opus' })).status, 200);
  await s.api('POST', '/api/agents/worker/messages', { body: 'another one' });
  await waitFor('a turn on the new model', () => s.core.log.list({ agent: 'worker' }).some((e) => e.event === 'turn' && (e.data as { model?: string }).model === 'opus'), 90_000);
  t.is(harnessPid('worker'), pid0, 'the same harness process took that turn: nothing restarted');
  t.is((await agent()).runtime.restarts, a0.runtime.restarts);

  // A config revision: the container restarts on it, its state dir as it was.
  const head = await pushByPath(repoOf(s.state, 'worker'), { 'prompt.md': 'You are the worker, revised.\n' }, { message: 'revise the prompt' });
  const req = await waitFor('the change request', async () => ((await s.api('GET', '/api/approvals?agent=worker')).body as { id: number; head: string }[]).find((r) => r.head === head), 30_000);
  t.is((await s.api('POST', `/api/approvals/${req.id}/approve`)).status, 200);
  await waitFor('running the new revision', async () => { const v = await agent(); return v.runtime.state === 'running' && v.runtime.revision === head; }, 60_000);
  const pid1 = await waitFor('the new harness process', () => { const p = harnessPid('worker'); return p && p !== pid0 ? p : null; }, 60_000);
  t.is(fs.readFileSync(path.join(s.state, 'agents', 'worker', 'config', 'prompt.md'), 'utf8'), 'You are the worker, revised.\n');
  const after = await inside(s, 'worker', ['cat', '/hyperhive/state/kept.txt', '/hyperhive/config/prompt.md']);
  t.regex(after.out, /survives\nYou are the worker, revised\./);

  // A crash inside: kill the harness; the runtime sees it and starts the container again.
  const restarts = (await agent()).runtime.restarts;
  process.kill(pid1, 'SIGKILL');
  await waitFor('the crash seen', () => s.core.log.list({ agent: 'worker' }).some((e) => e.event === 'runtime-crashed'), 30_000);
  await waitFor('restarted', async () => { const v = await agent(); return v.runtime.state === 'running' && v.runtime.restarts === restarts + 1; }, 60_000);
  const pid2 = await waitFor('a harness again', () => { const p = harnessPid('worker'); return p && p !== pid1 ? p : null; }, 60_000);
  t.truthy(pid2);
  t.is(fs.readFileSync(path.join(s.state, 'agents', 'worker', 'state', 'kept.txt'), 'utf8'), 'survives\n');
});

it("the web terminal opens inside the agent's container (the runtime's exec), as root of the container", async (t) => {
  await waitFor('worker running', async () => (await agent()).runtime.state === 'running', 60_000);
  const term = await openTerminal(s.url, 'worker', { token: s.token, cols: 100, rows: 30 });
  t.teardown(() => term.close());
  t.like(await term.message('hello'), { agent: 'worker', runtime: 'nspawn', isolated: true });
  term.type('echo "in=$HYPERHIVE_AGENT:$(id -u):$(pwd):$(cat /proc/1/cmdline | tr "\\0" " ")"\r');
  // PID 1 as the shell sees it is the container's stub init: the shell is in the container's pid namespace.
  const line = await term.expect(/in=worker:0:\/hyperhive\/state:\(sd-stubinit\)/, { timeoutMs: 20_000 }).catch((e) => { throw new Error(`${(e as Error).message}; the terminal showed ${JSON.stringify(term.text())}, messages ${JSON.stringify(term.messages)}`); });
  t.truthy(line);
});
