// The chosen permission mechanism with the real, pinned claude CLI. First: the harness's argv (stream-json
// on stdin, `--permission-prompt-tool stdio`) is accepted: no argument error, the init line shows it.
// Then, with a fake Messages API on loopback standing in for the model (so the CLI reaches a tool call
// without credentials), the whole path: real CLI → real harness → the controller's endpoint → the
// approval queue → an operator → the answer back on the CLI's stdin → the tool runs (or not, with the
// operator's words in its tool_result).
import test from 'ava';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { buildTurnArgv, turnInput } from '../../controller/harness/argv.ts';
import { startFakeAnthropic } from '../helpers/fake-anthropic.ts';
import { PROJECT_ROOT, tmpDir } from '../helpers/paths.ts';
import { agentToken, createAgents, startServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';

const CLAUDE = path.join(PROJECT_ROOT, 'node_modules', '.bin', 'claude');
const PINNED = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')).devDependencies['@anthropic-ai/claude-code'] as string;
const absent = (() => { try { fs.accessSync(CLAUDE, fs.constants.X_OK); return null; } catch (e) { return `${CLAUDE} is not installed (${(e as NodeJS.ErrnoException).code}); npm ci installs @anthropic-ai/claude-code`; } })();
const maybe = absent ? test.serial.skip : test.serial;
if (absent) console.log(`claude-cli-permissions: skipped: ${absent}`);

function run(args: string[], env: Record<string, string>, cwd: string, stdin: string): Promise<{ code: number | null; lines: any[]; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(CLAUDE, args, { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = ''; let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString('utf8');
      // As the harness does: the turn is over at its result, and closing stdin lets the CLI exit.
      if (/"type":"result"/.test(c.toString('utf8'))) child.stdin.end();
    });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString('utf8'); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`claude did not finish:\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`)); }, 150_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, lines: stdout.split('\n').filter((l) => l.trim().startsWith('{')).map((l) => JSON.parse(l)) });
    });
    child.stdin.on('error', () => {});
    child.stdin.write(stdin);
  });
}

maybe("the pinned CLI accepts the harness's argv for the stdio permission mechanism: init line, no argument error", async (t) => {
  t.timeout(200_000);
  const s = await startServer({ prefix: 'hh-cli-perm-' });
  t.teardown(() => s.close());
  await createAgents(s, ['alpha']);
  const home = tmpDir('hh-claude-home-');
  t.teardown(() => fs.rmSync(home, { recursive: true, force: true }));
  const mcp = path.join(home, 'mcp.json');
  fs.writeFileSync(mcp, JSON.stringify({ mcpServers: { hyperhive: { type: 'http', url: `${s.url}/mcp`, headers: { Authorization: `Bearer ${agentToken(s.state, 'alpha')}` } } } }), { mode: 0o600 });
  const argv = buildTurnArgv({ prompt: 'You have 1 new message.', model: 'sonnet', mcpConfigFile: mcp, systemPrompt: 'You are alpha.', allow: ['Read', 'Bash(git *)', 'mcp__hyperhive__*'], deny: ['WebFetch'] });
  const r = await run(argv, { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, MCP_CONNECTION_NONBLOCKING: '0', DISABLE_AUTOUPDATER: '1' }, home, turnInput('You have 1 new message.'));
  t.notRegex(r.stderr, /unknown option|error: option|argument missing|invalid/i, r.stderr);
  const init = r.lines.find((l) => l.type === 'system' && l.subtype === 'init');
  t.truthy(init, `no init line:\n${r.stdout.slice(0, 1500)}\n${r.stderr.slice(0, 1500)}`);
  t.is(init.claude_code_version, PINNED);
  t.is(init.permissionMode, 'default');
  t.deepEqual(init.mcp_servers.filter((m: any) => m.name === 'hyperhive').map((m: any) => m.status), ['connected']);
  const result = r.lines.find((l) => l.type === 'result');
  t.truthy(result, 'the turn read from stdin ran to a result');
  t.log(`result: ${result.subtype} ${String(result.result ?? '').slice(0, 80)}; exit ${r.code}`);
});

maybe('the real CLI through the real harness: a call its surface does not allow waits in the queue; allowed, it runs; denied, the model reads why', async (t) => {
  t.timeout(300_000);
  const api = await startFakeAnthropic({ name: 'Bash', input: { command: 'touch made-by-claude.txt', description: 'make a file' } });
  t.teardown(() => api.close());
  const s = await startServer({
    prefix: 'hh-cli-perm-run-', agentCommand: undefined, agentCli: CLAUDE,
    agentEnv: () => ({ ANTHROPIC_BASE_URL: api.url, ANTHROPIC_API_KEY: 'sk-fake-for-tests', DISABLE_AUTOUPDATER: '1', HYPERHIVE_TOOL_POLL_MS: '1000' }),
  });
  t.teardown(() => s.close());
  await createAgents(s, ['worker']);
  await waitFor('harness running', async () => (await s.api('GET', '/api/agents/worker')).body.runtime.state === 'running', 60_000);
  const file = path.join(s.state, 'agents', 'worker', 'state', 'work', 'made-by-claude.txt');

  t.is((await s.api('POST', '/api/agents/worker/messages', { body: 'make the file' })).status, 201);
  const req = await waitFor('the CLI asks', async () => (await s.api<any[]>('GET', '/api/approvals?agent=worker&kind=tool&status=pending')).body[0], 120_000);
  t.deepEqual(req.tool.input, { command: 'touch made-by-claude.txt', description: 'make a file' }, 'the input the CLI sent');
  t.false(fs.existsSync(file), 'nothing ran before the answer');
  t.is((await s.api('POST', `/api/approvals/${req.id}/approve`, {})).body.status, 'approved');
  await waitFor('the tool ran', () => fs.existsSync(file), 120_000);
  await waitFor('its result reached the model', () => api.results.length >= 1, 60_000);
  t.falsy(api.results[0]!.is_error);

  fs.rmSync(file);
  t.is((await s.api('POST', '/api/agents/worker/messages', { body: 'make it again' })).status, 201);
  const req2 = await waitFor('the CLI asks again', async () => (await s.api<any[]>('GET', '/api/approvals?agent=worker&kind=tool&status=pending')).body[0], 120_000);
  t.is((await s.api('POST', `/api/approvals/${req2.id}/reject`, { reason: 'no more files today' })).body.status, 'rejected');
  await waitFor('the deny reached the model', () => api.results.length >= 2, 120_000);
  t.true(api.results[1]!.is_error);
  t.regex(JSON.stringify(api.results[1]!.content), /Denied by operator operator: no more files today/);
  t.false(fs.existsSync(file), 'the denied call did not run');
});

// Longer than the ~5 minutes after which users report MCP approval calls abandoned (and than Node's
// default 300 s requestTimeout of an HTTP server): the stdio control request waits as long as the host
// wants, and the harness's bounded polls never hold one HTTP request that long. The CLI has no clock
// of its own to shorten here, so this takes the real 5.5 minutes: run it with HYPERHIVE_LONG_TESTS=1.
const long = !absent && process.env.HYPERHIVE_LONG_TESTS === '1';
if (!long) console.log('claude-cli-permissions: the 5.5-minute wait is skipped: set HYPERHIVE_LONG_TESTS=1 to run it');
(long ? test.serial : test.serial.skip)('the real CLI waits 5.5 minutes for an operator and the allowed call still runs', async (t) => {
  t.timeout(600_000);
  const api = await startFakeAnthropic({ name: 'Bash', input: { command: 'touch waited.txt', description: 'after a long wait' } });
  t.teardown(() => api.close());
  const s = await startServer({
    prefix: 'hh-cli-perm-long-', agentCommand: undefined, agentCli: CLAUDE, toolTimeoutMs: 15 * 60_000,
    agentEnv: () => ({ ANTHROPIC_BASE_URL: api.url, ANTHROPIC_API_KEY: 'sk-fake-for-tests', DISABLE_AUTOUPDATER: '1' }),
  });
  t.teardown(() => s.close());
  await createAgents(s, ['worker']);
  await waitFor('harness running', async () => (await s.api('GET', '/api/agents/worker')).body.runtime.state === 'running', 60_000);
  t.is((await s.api('POST', '/api/agents/worker/messages', { body: 'go' })).status, 201);
  const req = await waitFor('the CLI asks', async () => (await s.api<any[]>('GET', '/api/approvals?agent=worker&kind=tool&status=pending')).body[0], 120_000);
  await waitFor('5.5 minutes of waiting', () => Date.now() - req.createdAt > 330_000, 400_000);
  t.is((await s.api('POST', `/api/approvals/${req.id}/approve`, {})).body.status, 'approved');
  const file = path.join(s.state, 'agents', 'worker', 'state', 'work', 'waited.txt');
  await waitFor('the tool ran', () => fs.existsSync(file), 120_000);
  t.is((await s.api('GET', `/api/stats?agent=worker&key=class:hung&since=-1h`)).body.points.length, 0, 'not killed as hung');
});
