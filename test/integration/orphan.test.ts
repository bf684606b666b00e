import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpDir } from '../helpers/paths.ts';
import { agentProcesses, freePort, httpJson, killAgentProcesses, spawnCli, waitHealthy, type AgentProcess, type CliServer } from '../helpers/cli-server.ts';
import { operatorToken } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';

// Agents never outlive a dead controller for long: a real `hyperhive serve` is SIGKILLed (its process
// group only, so its agents survive as they would) and not restarted; with HYPERHIVE_ORPHAN_TIMEOUT_MS
// short every agent process (harness, the CLI of a turn in progress, the idle agent) exits on its own.
// A restart inside the window still adopts them; a deleted token file ends its agent at once.

const FAKE = fileURLToPath(new URL('../helpers/fake-claude.mjs', import.meta.url));
const HANG = fileURLToPath(new URL('../fixtures/stream/hang.jsonl', import.meta.url));
// The harness splits HYPERHIVE_AGENT_CLI on blanks: env(1) carries the fake CLI's own settings. Its turns
// print an init line and then hang, so a turn stays in progress until something kills it.
const HANGING_CLI = `env FAKE_CLAUDE_FIXTURE=${HANG} FAKE_CLAUDE_MODE=hang ${process.execPath} ${FAKE}`;
const TIMEOUT_MS = 3000;
// Process starts and exits on a 2-core machine shared with other suites: generous, and the time taken is logged.
const MARGIN_MS = 12_000;

const cmdline = (pid: number): string => { try { return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' '); } catch { return ''; } };
const isCli = (p: AgentProcess) => cmdline(p.pid).includes('fake-claude.mjs');
const runtimeLog = (state: string, agent: string): string => { try { return fs.readFileSync(path.join(state, 'agents', agent, 'runtime.log'), 'utf8'); } catch { return ''; } };

interface Fleet { state: string; s: CliServer; token: string; api(method: string, route: string, body?: unknown): Promise<{ status: number; body: any }> }

async function fleet(t: import('ava').ExecutionContext, prefix: string, env: Record<string, string>, agents: string[]): Promise<Fleet> {
  const state = tmpDir(prefix);
  const port = await freePort();
  const f: Fleet = { state, s: spawnCli(state, port, env), token: '', api: (m, r, b) => httpJson(f.s.url, m, r, { token: f.token, body: b }) };
  t.teardown(async () => { await f.s.kill9(); killAgentProcesses(state); fs.rmSync(state, { recursive: true, force: true }); });
  await waitHealthy(f.s);
  f.token = operatorToken(state);
  for (const name of agents) t.is((await f.api('POST', '/api/agents', { name })).status, 201);
  for (const name of agents) await running(f, name);
  return f;
}

const running = (f: Fleet, name: string) => waitFor(`${name} running`, async () => {
  const a = (await f.api('GET', `/api/agents/${name}`)).body;
  return a?.runtime?.state === 'running' && a.runtime.pid ? a.runtime.pid as number : null;
}, 60_000);

/** Sends the agent a message and waits for its turn's CLI process: a turn is in progress. */
async function turnInProgress(f: Fleet, name: string): Promise<AgentProcess> {
  const r = await f.api('POST', `/api/agents/${name}/messages`, { body: 'work on this' });
  if (r.status !== 201 && r.status !== 200) throw new Error(`message to ${name}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
  return waitFor(`${name}'s turn CLI running`, () => agentProcesses(f.state).find((p) => p.agent === name && isCli(p)), 60_000);
}

test.serial('controller SIGKILLed and not restarted: every agent process exits within the orphan timeout, saying why', async (t) => {
  t.timeout(240_000);
  const env = { HYPERHIVE_ORPHAN_TIMEOUT_MS: String(TIMEOUT_MS) };
  const [h, idle] = await Promise.all([
    fleet(t, 'hh-orphan-h-', { ...env, HYPERHIVE_AGENT_CLI: HANGING_CLI }, ['alpha', 'beta']),
    fleet(t, 'hh-orphan-i-', { ...env, HYPERHIVE_AGENT_COMMAND: 'idle' }, ['gamma']),
  ]);
  const cli = await turnInProgress(h, 'alpha');
  const before = [...agentProcesses(h.state), ...agentProcesses(idle.state)];
  t.log(`agent processes before the kill: ${before.map((p) => `${p.agent}:${p.pid}${isCli(p) ? ' (cli)' : ''}`).join(', ')}`);
  for (const a of ['alpha', 'beta']) t.true(before.some((p) => p.agent === a && !isCli(p)), `${a}'s harness runs`);
  t.true(before.some((p) => p.agent === 'gamma'), 'the idle agent runs');

  const killedAt = Date.now();
  await Promise.all([h.s.kill9(), idle.s.kill9()]);
  t.true(before.every((p) => fs.existsSync(`/proc/${p.pid}`)), 'the agents outlive the killed controllers');

  await waitFor('every agent process gone', () => agentProcesses(h.state).length === 0 && agentProcesses(idle.state).length === 0, TIMEOUT_MS + MARGIN_MS);
  const took = Date.now() - killedAt;
  t.log(`all ${before.length} agent processes gone ${took} ms after the kill (timeout ${TIMEOUT_MS} ms)`);
  t.false(fs.existsSync(`/proc/${cli.pid}`) && !/State:\s+Z/.test(fs.readFileSync(`/proc/${cli.pid}/status`, 'utf8')), 'the turn\'s CLI went with its harness');
  for (const a of ['alpha', 'beta']) t.regex(runtimeLog(h.state, a), new RegExp(`\\[harness ${a}\\] exiting: no answer from the controller for \\d+ ms \\(HYPERHIVE_ORPHAN_TIMEOUT_MS=${TIMEOUT_MS}\\)`));
  t.regex(runtimeLog(idle.state, 'gamma'), /idle agent exiting: no answer from the controller for \d+ ms \(HYPERHIVE_ORPHAN_TIMEOUT_MS=3000\)/);
});

test.serial('a controller restarted inside the window adopts its agents, which go on working', async (t) => {
  t.timeout(240_000);
  // Wide enough for a restart on a loaded machine: the point is adoption, not the timeout.
  const env = { HYPERHIVE_ORPHAN_TIMEOUT_MS: '30000', HYPERHIVE_AGENT_CLI: HANGING_CLI };
  const f = await fleet(t, 'hh-orphan-r-', env, ['alpha', 'beta']);
  const pids = { alpha: await running(f, 'alpha'), beta: await running(f, 'beta') };
  const port = Number(new URL(f.s.url).port);
  await f.s.kill9();
  f.s = spawnCli(f.state, port, env);
  await waitHealthy(f.s);
  for (const name of ['alpha', 'beta'] as const) {
    t.is(await running(f, name), pids[name], `${name}: the same process, taken over`);
    const log = (await f.api('GET', `/api/log?agent=${name}&limit=200`)).body as { event: string; message: string }[];
    t.true(log.some((e) => e.event === 'runtime-adopted' && e.message.includes(String(pids[name]))), `${name}'s takeover is in the reconciliation log`);
  }
  // The adopted harness talks to the new controller: a message starts a turn.
  const cli = await turnInProgress(f, 'beta');
  t.true(cli.pid > 0);
  t.deepEqual(agentProcesses(f.state).filter((p) => !isCli(p)).map((p) => p.pid).sort(), Object.values(pids).sort(), 'no other harness started');
  t.false(runtimeLog(f.state, 'alpha').includes('exiting:'), 'no orphan exit');
  t.is((await f.s.term()).code, 0);
  await waitFor('no agent process after SIGTERM', () => agentProcesses(f.state).length === 0, 30_000);
});

test.serial('token file deleted: that agent exits at once, saying why; the others run on', async (t) => {
  t.timeout(180_000);
  const f = await fleet(t, 'hh-orphan-t-', { HYPERHIVE_AGENT_CLI: HANGING_CLI }, ['alpha', 'beta']);
  const alpha = await running(f, 'alpha');
  const beta = await running(f, 'beta');
  const tokenFile = path.join(f.state, 'agents', 'alpha', 'token');
  const deletedAt = Date.now();
  fs.rmSync(tokenFile);
  // The default timeout (10 min) is far away: only the missing file can end it this soon.
  await waitFor('alpha\'s harness gone', () => !agentProcesses(f.state).some((p) => p.pid === alpha), 15_000);
  t.log(`alpha's harness gone ${Date.now() - deletedAt} ms after its token file was deleted`);
  t.regex(runtimeLog(f.state, 'alpha'), new RegExp(`\\[harness alpha\\] exiting: token file ${tokenFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is gone`));
  t.true(agentProcesses(f.state).some((p) => p.pid === beta), 'beta still runs');
  t.false(runtimeLog(f.state, 'beta').includes('exiting:'));
});
