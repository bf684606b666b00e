import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { RefCache } from '../../repos/ref-cache.ts';
import { readRefs } from '../../repos/refs.ts';
import { git } from '../../repos/git.ts';
import { repoFixture } from '../helpers/repos.ts';

// RefCache against real bare repos with their real reference-transaction hook: a branch moved by git
// shows on the very next read (the hook's journal line is the signal); one written past git shows
// once the entry is older than maxAgeMs; a repo made again under the same path is read afresh.

const fx = repoFixture('ref-cache');
test.after.always(() => fx.cleanup());

async function otherCommit(repo: string, parent: string): Promise<string> {
  const tree = (await git(['rev-parse', `${parent}^{tree}`], { repo })).stdout.toString().trim();
  return (await git(['commit-tree', tree, '-p', parent, '-m', 'next'], { repo, env: { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@x' } })).stdout.toString().trim();
}

test('a move by git shows on the next read; unchanged reads are served from memory', async (t) => {
  const { dir, repo, roots } = await fx.make();
  const journal = path.join(dir, 'refs.jsonl');
  const cache = new RefCache(journal);
  const first = await cache.read(repo, 1);
  t.deepEqual(first, await readRefs(repo));
  t.is(await cache.read(repo, 1), first, 'the same object while the journal stands still');

  const next = await otherCommit(repo, roots.config);
  await git(['update-ref', 'refs/heads/proposed', next, roots.config], { repo });
  t.true(fs.statSync(journal).size > 0, 'the hook wrote its journal line');
  const after = await cache.read(repo, 1);
  t.is(after.proposed, next);
  t.is(after.applied, roots.config);
});

test('a ref written past git (no hook) shows once the entry is older than maxAgeMs', async (t) => {
  const { dir, repo, roots } = await fx.make();
  let now = 1_000;
  const cache = new RefCache(path.join(dir, 'refs.jsonl'), { maxAgeMs: 2000, now: () => now });
  t.is((await cache.read(repo, 1)).proposed, roots.config);
  const next = await otherCommit(repo, roots.config);
  fs.writeFileSync(path.join(repo, 'refs', 'heads', 'proposed'), `${next}\n`);
  now += 1999;
  t.is((await cache.read(repo, 1)).proposed, roots.config, 'no journal line: the old read is still within its age');
  now += 1;
  t.is((await cache.read(repo, 1)).proposed, next);
});

test('another generation of the same repo path (purged, made again) is read afresh', async (t) => {
  const { dir, repo, roots } = await fx.make();
  const cache = new RefCache(path.join(dir, 'refs.jsonl'), { now: () => 0 });
  t.is((await cache.read(repo, 1)).proposed, roots.config);
  const next = await otherCommit(repo, roots.config);
  // As createRepo does: branches written before the hooks are there, so no journal line.
  fs.writeFileSync(path.join(repo, 'refs', 'heads', 'proposed'), `${next}\n`);
  t.is((await cache.read(repo, 1)).proposed, roots.config);
  t.is((await cache.read(repo, 2)).proposed, next);
});
