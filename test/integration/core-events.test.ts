import test from 'ava';
import path from 'node:path';
import { startServer, pushByPath, waitFor, type TestServer } from '../helpers/core.ts';

const servers: TestServer[] = [];
test.after.always(async () => { for (const s of servers) await s.close(); });

const openReqs = async (s: TestServer, name: string) => (await s.api('GET', `/api/approvals?agent=${name}&status=pending,diverged`)).body as { head: string }[];

test('a push whose event another agent\'s pass reads first still gets its own pass at once', async (t) => {
  // No resync for the length of the test, and no watcher: only the passes themselves read events.
  const s = await startServer({ resyncMs: 3_600_000 });
  servers.push(s);
  for (const name of ['pushed', 'other']) t.is((await s.api('POST', '/api/agents', { name })).status, 201);
  (s.controller.reconciler as unknown as { stopWatch: (() => void) | null }).stopWatch?.();
  const head = pushByPath(path.join(s.state, 'repos', 'pushed.git'), { 'x.txt': 'x\n' });
  await s.controller.reconciler.reconcile('other');
  const reqs = await waitFor(async () => { const l = await openReqs(s, 'pushed'); return l.length > 0 && l; }, 'a request for the pushed agent', 30_000);
  t.is(reqs[0].head, head);
});
