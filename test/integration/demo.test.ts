import test from 'ava';
import path from 'node:path';
import { gitc } from '../helpers/git.ts';
import { startServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';

test('the demo fleet: scripted agents message each other, commit notes, and the manager proposes a change that restarts worker once approved', async (t) => {
  // The real harness and the scripted stand-in for claude, over the real /mcp and turns routes.
  const s = await startServer({ demo: true, agentCommand: undefined });
  t.teardown(() => s.close());
  const req = await waitFor("the manager's request", async () => {
    const l = (await s.api('GET', '/api/approvals?status=pending&agent=worker')).body as any[];
    return l[0];
  }, 90_000);
  t.is(req.proposer, 'manager');
  t.deepEqual(req.paths, ['prompt.md']);
  const inbox = await waitFor('a message to the operator', async () => { const l = (await s.api('GET', '/api/inbox')).body as any[]; return l.find((m) => m.from === 'manager'); }, 60_000);
  t.regex(inbox.body, /approval/);
  const workerRepo = path.join(s.state, 'repos', 'worker.git');
  await waitFor('worker committed its notes', () => gitc(workerRepo, 'log', '-1', '--format=%an', 'live') === 'worker', 60_000);
  t.regex(gitc(workerRepo, 'show', 'live:notes.md'), /Reported status to manager/);
  const turns = await waitFor('turn stats', async () => {
    const st = (await s.api('GET', '/api/stats?agent=manager')).body as any;
    return st.series?.find((x: any) => x.key === 'class:ok' && x.points.length > 0);
  }, 60_000);
  t.true(turns.points.length >= 1);
  const before = (await s.api('GET', '/api/agents/worker')).body;
  t.is((await s.api('POST', `/api/approvals/${req.id}/approve`, {})).status, 200);
  const after = await waitFor('worker restarted on the new revision', async () => { const a = (await s.api('GET', '/api/agents/worker')).body; return a.runtime.revision === req.head && a.runtime.state === 'running' && a; }, 60_000);
  t.not(after.runtime.pid, before.runtime.pid);
});
