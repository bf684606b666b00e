import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { NspawnRuntime } from '../../controller/runtime/nspawn.ts';
import { cmdlineOf, exited } from '../../controller/runtime/procfs.ts';
import { freePort, httpJson, spawnCli, waitHealthy, type CliServer } from '../helpers/cli-server.ts';
import { tmpDir } from '../helpers/paths.ts';
import { waitFor } from '../helpers/wait.ts';

// `--runtime nspawn --systemd off` across a controller killed with SIGKILL: the next controller takes
// over the container still running the revision it would start (same argv), and a container whose
// controller never comes back ends by itself after HYPERHIVE_ORPHAN_TIMEOUT_MS.

const skip = NspawnRuntime.unavailable();
const it = skip ? test.skip : test.serial;
if (skip) test('nspawn restart: skipped', (t) => { t.log(`skipped: ${skip}`); t.pass(); });

/** The nspawn processes of containers under this state dir (what a dead controller leaves). */
function containersOf(state: string): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const cmd = cmdlineOf(Number(d));
    if (cmd && path.basename(cmd[0] ?? '') === 'systemd-nspawn' && cmd.some((a) => a.startsWith(`--directory=${state}/`))) out.push(Number(d));
  }
  return out;
}

const state = tmpDir('hh-nspawn-restart-');
const servers: CliServer[] = [];
test.after.always(async () => {
  for (const s of servers) await s.kill9();
  for (const pid of containersOf(state)) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  fs.rmSync(state, { recursive: true, force: true });
});

async function start(port: number, env: Record<string, string>): Promise<{ s: CliServer; token: string }> {
  const s = spawnCli(state, port, { HYPERHIVE_AGENT_COMMAND: 'idle', ...env }, { runtime: 'nspawn' });
  servers.push(s);
  await waitHealthy(s);
  return { s, token: fs.readFileSync(path.join(state, 'operator.token'), 'utf8').trim() };
}
const runningPid = (s: CliServer, token: string) => waitFor('worker running', async () => {
  const a = (await httpJson(s.url, 'GET', '/api/agents/worker', { token })).body;
  return a?.runtime?.state === 'running' && a.runtime.pid;
}, 60_000);

it('a controller killed with SIGKILL: the next one takes its container over; with no controller it ends after the orphan timeout', async (t) => {
  const port = await freePort();
  const a = await start(port, { HYPERHIVE_ORPHAN_TIMEOUT_MS: '600000' });
  t.is((await httpJson(a.s.url, 'POST', '/api/agents', { token: a.token, body: { name: 'worker' } })).status, 201);
  const pid = await runningPid(a.s, a.token);
  await a.s.kill9();
  t.false(exited(pid), 'the container outlives its controller');

  const b = await start(port, { HYPERHIVE_ORPHAN_TIMEOUT_MS: '600000' });
  t.is(await runningPid(b.s, b.token), pid, 'the same container, taken over');
  const log = (await httpJson(b.s.url, 'GET', '/api/log?agent=worker', { token: b.token })).body as { event: string }[];
  t.true(log.some((e) => e.event === 'runtime-adopted'));
  t.deepEqual(containersOf(state), [pid], 'one container, no second one started');
  await b.s.kill9();

  // Started differently (another orphan timeout in its environment): not taken over but replaced.
  const c = await start(port, { HYPERHIVE_ORPHAN_TIMEOUT_MS: '3000' });
  const pid2 = await runningPid(c.s, c.token);
  t.not(pid2, pid);
  await waitFor('the old container gone', () => exited(pid), 30_000);
  await c.s.kill9();
  // No controller comes back: the agent inside exits once /api/health has not answered for 3 s, and its container with it.
  await waitFor('the orphaned container ended by itself', () => exited(pid2), 60_000);
  t.deepEqual(containersOf(state), []);
  t.regex(fs.readFileSync(path.join(state, 'agents', 'worker', 'runtime.log'), 'utf8'), /idle agent exiting: /, 'it said why');
});
