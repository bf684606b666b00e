import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { pushByPath } from '../helpers/git.ts';
import { tmpDir } from '../helpers/paths.ts';
import { waitFor } from '../helpers/wait.ts';
import { agentProcesses, freePort, httpJson, killAgentProcesses, spawnCli, waitHealthy, type CliServer } from '../helpers/cli-server.ts';
import { operatorToken } from '../helpers/server.ts';

// A controller restarted (crashed or upgraded) takes over the agent processes that still run what it
// would start, so their turns go on; anything else is stopped and started again.

const ENV = { HYPERHIVE_AGENT_COMMAND: 'idle' };

test.serial('after a SIGKILL the restarted controller takes over the running agent; on another URL it restarts it; a new revision replaces it', async (t) => {
  t.timeout(240_000);
  const state = tmpDir('hh-adopt-');
  const port = await freePort();
  let s: CliServer = spawnCli(state, port, ENV);
  t.teardown(async () => { await s.kill9(); killAgentProcesses(state); fs.rmSync(state, { recursive: true, force: true }); });
  await waitHealthy(s);
  const token = operatorToken(state);
  const api = (method: string, route: string, body?: unknown) => httpJson(s.url, method, route, { token, body });
  const running = async (label: string) => waitFor(label, async () => {
    const a = (await api('GET', '/api/agents/alpha')).body;
    return a?.runtime?.state === 'running' && a.runtime.pid && a.runtime.revision === a.applied && a;
  }, 60_000);

  t.is((await api('POST', '/api/agents', { name: 'alpha' })).status, 201);
  const first = await running('alpha running');
  const pid = first.runtime.pid as number;

  await s.kill9();
  t.true(fs.existsSync(`/proc/${pid}`), 'the agent outlives the killed controller');
  s = spawnCli(state, port, ENV);
  await waitHealthy(s);
  const again = await running('alpha running after the restart');
  t.is(again.runtime.pid, pid, 'the same process, taken over');
  t.is(again.runtime.revision, first.runtime.revision);
  const log = (await api('GET', '/api/log?agent=alpha&limit=200')).body as { event: string; message: string }[];
  t.true(log.some((e) => e.event === 'runtime-adopted' && e.message.includes(String(pid))), 'the takeover is in the reconciliation log');
  t.deepEqual(agentProcesses(state).map((p) => p.pid), [pid], 'one process for the agent');

  // An approved change replaces the adopted process like any other.
  const head = pushByPath(path.join(state, 'repos', 'alpha.git'), { 'extra.md': 'more\n' });
  const req = await waitFor('the request', async () => ((await api('GET', '/api/approvals?agent=alpha')).body as { id: number; head: string }[]).find((r) => r.head === head));
  t.is((await api('POST', `/api/approvals/${req.id}/approve`, {})).status, 200);
  const next = await waitFor('the new revision running', async () => { const a = (await api('GET', '/api/agents/alpha')).body; return a.runtime.state === 'running' && a.runtime.revision === head && a; }, 60_000);
  t.not(next.runtime.pid, pid);
  await waitFor('the adopted process stopped', () => !fs.existsSync(`/proc/${pid}`) || /State:\s+Z/.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8')), 30_000);

  // A controller on another address must not keep an agent that would call the old one: restarted.
  const newPid = next.runtime.pid as number;
  await s.kill9();
  const port2 = await freePort();
  s = spawnCli(state, port2, ENV);
  await waitHealthy(s);
  const moved = await waitFor('alpha restarted for the new URL', async () => {
    const a = (await httpJson(s.url, 'GET', '/api/agents/alpha', { token })).body;
    return a?.runtime?.state === 'running' && a.runtime.pid && a.runtime.pid !== newPid && a;
  }, 60_000);
  t.is(moved.runtime.revision, head);
  await waitFor('only the new process left', () => agentProcesses(state).length === 1, 30_000);

  // A clean stop stops an adopted agent too, and the controller exits 0 (it waits for the agent).
  const movedPid = moved.runtime.pid as number;
  await s.kill9();
  s = spawnCli(state, port2, ENV);
  await waitHealthy(s);
  const adoptedAgain = await waitFor('alpha running after the last restart', async () => {
    const a = (await httpJson(s.url, 'GET', '/api/agents/alpha', { token })).body;
    return a?.runtime?.state === 'running' && a.runtime.pid && a;
  }, 60_000);
  t.is(adoptedAgain.runtime.pid, movedPid, 'taken over again');
  t.is((await s.term()).code, 0);
  await waitFor('no agent process after SIGTERM', () => agentProcesses(state).length === 0, 15_000);
});
