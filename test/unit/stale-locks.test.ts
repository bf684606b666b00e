import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { clearStaleRefLocks, removeLockIfStale } from '../../controller/reconciler/stale-locks.ts';
import { git } from '../../repos/git.ts';
import { readRef } from '../../repos/refs.ts';
import { repoFixture } from '../helpers/repos.ts';

const fixture = repoFixture('stale-locks');
test.after.always(() => fixture.cleanup());

const lockAt = (file: string, ageMs: number, now: number): void => {
  fs.writeFileSync(file, '');
  const t = (now - ageMs) / 1000;
  fs.utimesSync(file, t, t);
};

/** A commit on top of `parent` that only git plumbing made, to move a branch to. */
async function child(repo: string, parent: string): Promise<string> {
  const tree = (await git(['rev-parse', `${parent}^{tree}`], { repo })).stdout.toString().trim();
  return (await git(['commit-tree', tree, '-p', parent, '-m', 'next'], { repo, env: { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com' } })).stdout.toString().trim();
}

test('removes proposed, live and packed-refs locks older than the threshold, keeps younger ones and applied.lock', async (t) => {
  const { repo } = await fixture.make();
  const now = Date.now();
  const old = ['refs/heads/proposed.lock', 'refs/heads/live.lock', 'packed-refs.lock'].map((r) => path.join(repo, r));
  for (const f of old) lockAt(f, 60_000, now);
  const applied = path.join(repo, 'refs/heads/applied.lock');
  lockAt(applied, 60_000, now);
  const r = clearStaleRefLocks(repo, { now });
  t.deepEqual(r.removed.sort(), [...old].sort());
  for (const f of old) t.false(fs.existsSync(f), f);
  t.true(fs.existsSync(applied), 'applied.lock is the reconciler\'s own business');

  // young locks (5 s old, and just created) are an update in progress
  lockAt(old[0], 5_000, now);
  lockAt(old[1], 0, now);
  t.deepEqual(clearStaleRefLocks(repo, { now }).removed, []);
  t.true(fs.existsSync(old[0]));
  t.true(fs.existsSync(old[1]));
  // the same locks are stale for a smaller threshold, or later
  t.deepEqual(clearStaleRefLocks(repo, { now, olderThanMs: 4_000 }).removed, [old[0]]);
  t.deepEqual(clearStaleRefLocks(repo, { now: now + 31_000 }).removed, [old[1]]);
  t.deepEqual(clearStaleRefLocks(repo, { now }).removed, [], 'nothing left to remove');
});

test('a stale proposed.lock blocks update-ref until it is removed', async (t) => {
  const { repo, roots } = await fixture.make();
  const next = await child(repo, roots.config);
  const lock = path.join(repo, 'refs/heads/proposed.lock');
  lockAt(lock, 120_000, Date.now());
  const blocked = await git(['update-ref', 'refs/heads/proposed', next, roots.config], { repo, allowFail: true });
  t.not(blocked.code, 0);
  t.regex(blocked.stderr, /proposed\.lock/);
  t.is(await readRef(repo, 'proposed'), roots.config);
  t.deepEqual(clearStaleRefLocks(repo).removed, [lock]);
  const ok = await git(['update-ref', 'refs/heads/proposed', next, roots.config], { repo, allowFail: true });
  t.is(ok.code, 0, ok.stderr);
  t.is(await readRef(repo, 'proposed'), next);
});

test('a stale live.lock is removed and live can move again; a young one stays and keeps blocking', async (t) => {
  const { repo, roots } = await fixture.make();
  const next = await child(repo, roots.live);
  const lock = path.join(repo, 'refs/heads/live.lock');
  lockAt(lock, 1_000, Date.now());
  t.deepEqual(clearStaleRefLocks(repo).removed, []);
  t.not((await git(['update-ref', 'refs/heads/live', next, roots.live], { repo, allowFail: true })).code, 0, 'a young lock still blocks');
  t.is(removeLockIfStale(lock, { olderThanMs: 60_000 }), 'young');
  lockAt(lock, 45_000, Date.now());
  t.deepEqual(clearStaleRefLocks(repo).removed, [lock]);
  t.is((await git(['update-ref', 'refs/heads/live', next, roots.live], { repo, allowFail: true })).code, 0);
  t.is(await readRef(repo, 'live'), next);
  t.is(removeLockIfStale(lock), 'absent');
});

test('a missing repo or a lock that is a directory is left alone', (t) => {
  t.deepEqual(clearStaleRefLocks('/nonexistent/hh-no-repo.git').removed, []);
  const dir = fs.mkdtempSync(path.join(fs.realpathSync('/tmp'), 'hh-lockdir-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'refs/heads/proposed.lock'), { recursive: true });
  const t0 = (Date.now() - 120_000) / 1000;
  fs.utimesSync(path.join(dir, 'refs/heads/proposed.lock'), t0, t0);
  t.deepEqual(clearStaleRefLocks(dir).removed, []);
  t.true(fs.statSync(path.join(dir, 'refs/heads/proposed.lock')).isDirectory());
});
