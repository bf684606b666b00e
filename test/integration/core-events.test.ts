import test from 'ava';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { pushByPath, gitc } from '../helpers/git.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';

const servers: TestServer[] = [];
test.after.always(async () => { for (const s of servers) await s.close(); });

const openReqs = async (s: TestServer, name: string) => (await s.api('GET', `/api/approvals?agent=${name}&status=pending,diverged`)).body as { head: string }[];

test('a push whose event another agent\'s pass reads first still gets its own pass at once', async (t) => {
  // No resync for the length of the test, and no watcher: only the passes themselves read events.
  const s = await startServer({ resyncMs: 3_600_000 });
  servers.push(s);
  for (const name of ['pushed', 'other']) t.is((await s.api('POST', '/api/agents', { name })).status, 201);
  const r = s.core.reconciler as unknown as { stopWatch: (() => void) | null; repoWatchers: Map<string, { close(): void }> };
  r.stopWatch?.();
  // ...and no watch on the pushed repo's branches (made again at its next pass).
  for (const w of r.repoWatchers.values()) w.close();
  r.repoWatchers.clear();
  const head = pushByPath(path.join(s.state, 'repos', 'pushed.git'), { 'x.txt': 'x\n' });
  await s.core.reconciler.reconcile('other');
  const reqs = await waitFor('a request for the pushed agent', async () => { const l = await openReqs(s, 'pushed'); return l.length > 0 && l; }, 30_000);
  t.is(reqs[0].head, head);
});

test('a push is seen through the repo\'s branch files alone, and its proposer still comes from the hook', async (t) => {
  // No resync and no events-file watcher: only the watch on refs/heads can start the pass.
  const s = await startServer({ resyncMs: 3_600_000 });
  servers.push(s);
  t.is((await s.api('POST', '/api/agents', { name: 'watched' })).status, 201);
  (s.core.reconciler as unknown as { stopWatch: (() => void) | null }).stopWatch?.();
  const repo = path.join(s.state, 'repos', 'watched.git');
  const head = pushByPath(repo, { 'y.txt': 'y\n' });
  const [req] = await waitFor('a request from the branch watcher', async () => { const l = await openReqs(s, 'watched'); return l.length > 0 && l; }, 30_000);
  t.is(req.head, head);
  t.is((req as unknown as { proposer: string }).proposer, 'local', 'the hook\'s line names the pusher');
  // Moved by update-ref as someone else: the proposer is theirs.
  const other = gitc(repo, 'commit-tree', `${head}^{tree}`, '-p', head, '-m', 'by alice');
  execFileSync('git', ['update-ref', 'refs/heads/proposed', other, head], { cwd: repo, env: { ...process.env, HYPERHIVE_PUSHER: 'alice' } });
  const byAlice = await waitFor('the request for alice\'s move', async () => (await openReqs(s, 'watched')).find((r) => r.head === other), 30_000);
  t.is((byAlice as unknown as { proposer: string }).proposer, 'alice');
});
