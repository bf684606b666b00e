import test from 'ava';
import path from 'node:path';
import { startServer, waitFor, gitc } from '../helpers/core.ts';

test('the demo fleet: scripted agents message each other, commit notes, and the manager proposes a change that restarts worker once approved', async (t) => {
  // The real harness and the scripted stand-in for claude, over the real /mcp and turns routes.
  const s = await startServer({ demo: true, agentCommand: undefined });
  t.teardown(() => s.close());
  const req = await waitFor(async () => {
    const l = (await s.api('GET', '/api/approvals?status=pending&agent=worker')).body as any[];
    return l[0];
  }, "the manager's request", 90_000);
  t.is(req.proposer, 'manager');
  t.deepEqual(req.paths, ['prompt.md']);
  const inbox = await waitFor(async () => { const l = (await s.api('GET', '/api/inbox')).body as any[]; return l.find((m) => m.from === 'manager'); }, 'a message to the operator', 60_000);
  t.regex(inbox.body, /approval/);
  const workerRepo = path.join(s.state, 'repos', 'worker.git');
  await waitFor(() => gitc(workerRepo, 'log', '-1', '--format=%an', 'live') === 'worker', 'worker committed its notes', 60_000);
  t.regex(gitc(workerRepo, 'show', 'live:notes.md'), /Reported status to manager/);
  const turns = await waitFor(async () => {
    const st = (await s.api('GET', '/api/stats?agent=manager')).body as any;
    return st.series?.find((x: any) => x.key === 'class:ok' && x.points.length > 0);
  }, 'turn stats', 60_000);
  t.true(turns.points.length >= 1);
  const before = (await s.api('GET', '/api/agents/worker')).body;
  t.is((await s.api('POST', `/api/approvals/${req.id}/approve`, {})).status, 200);
  const after = await waitFor(async () => { const a = (await s.api('GET', '/api/agents/worker')).body; return a.runtime.revision === req.head && a.runtime.state === 'running' && a; }, 'worker restarted on the new revision', 60_000);
  t.not(after.runtime.pid, before.runtime.pid);
});
