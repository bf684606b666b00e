import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRepo } from '../../repos/store.ts';
import { readRefs, readRef, casRef, isAncestor, treeOf, commitExists, resolveRev } from '../../repos/refs.ts';
import { commitFiles } from '../../repos/commit.ts';
import { git } from '../../repos/git.ts';
import { identityFor } from '../../repos/identity.ts';
import { repoFixture } from '../helpers/repos.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const fixture = repoFixture('refs');
test.after.always(() => fixture.cleanup());

async function make() {
  const { dir, repo, roots } = await fixture.make();
  const next = await commitFiles(repo, { branch: 'proposed', files: { 'x.txt': 'x\n' }, message: 'add x', author: identityFor('a'), expectedOld: roots.config });
  return { dir, repo, roots, next };
}

test('readRefs and readRef report all three branches, null when missing', async (t) => {
  const { repo, roots, next } = await make();
  t.deepEqual(await readRefs(repo), { proposed: next, applied: roots.config, live: roots.live });
  t.is(await readRef(repo, 'applied'), roots.config);
  await git(['update-ref', '-d', 'refs/heads/live'], { repo });
  t.is(await readRef(repo, 'live'), null);
  t.deepEqual(await readRefs(repo), { proposed: next, applied: roots.config, live: null });
});

test('casRef moves a branch when the old value matches', async (t) => {
  const { repo, next, roots } = await make();
  await casRef(repo, 'applied', next, roots.config, { pusher: 'operator' });
  t.is(await readRef(repo, 'applied'), next);
});

test('casRef throws ref_moved on a mismatch and leaves the ref alone', async (t) => {
  const { repo, next, roots } = await make();
  const err = await t.throwsAsync(casRef(repo, 'proposed', roots.config, roots.config));
  t.is((err as any).code, 'ref_moved');
  t.is(err!.message, `refs/heads/proposed moved: expected ${roots.config.slice(0, 7)}, found ${next.slice(0, 7)}`);
  t.deepEqual((err as any).data, { branch: 'proposed', expected: roots.config, actual: next });
  t.is(await readRef(repo, 'proposed'), next);
});

test('casRef with null old creates a missing branch and refuses an existing one', async (t) => {
  const { repo, roots } = await make();
  await git(['update-ref', '-d', 'refs/heads/live'], { repo });
  await casRef(repo, 'live', roots.live, null);
  t.is(await readRef(repo, 'live'), roots.live);
  const err = await t.throwsAsync(casRef(repo, 'live', roots.live, null));
  t.is((err as any).code, 'ref_moved');
  t.is((err as any).data.actual, roots.live);
  // expecting a value on a missing branch reports 'missing'
  await git(['update-ref', '-d', 'refs/heads/live'], { repo });
  const err2 = await t.throwsAsync(casRef(repo, 'live', roots.live, roots.live));
  t.regex(err2!.message, /found missing$/);
  t.is((err2 as any).data.actual, null);
});

test('casRef refuses non-sha values and unknown branches', async (t) => {
  const { repo, roots } = await make();
  t.is((await t.throwsAsync(casRef(repo, 'proposed', 'HEAD', roots.config)) as any).code, 'bad_request');
  t.is((await t.throwsAsync(casRef(repo, 'main' as any, roots.config, roots.config)) as any).code, 'bad_request');
  t.is((await t.throwsAsync(casRef(repo, 'proposed', 'f'.repeat(40), null)) as any).code, 'ref_moved');
});

test('isAncestor, treeOf, resolveRev, commitExists', async (t) => {
  const { repo, roots, next } = await make();
  t.true(await isAncestor(repo, roots.config, next));
  t.false(await isAncestor(repo, next, roots.config));
  t.true(await isAncestor(repo, next, next));
  t.false(await isAncestor(repo, roots.live, next));
  const tree = (await git(['rev-parse', `${next}^{tree}`], { repo })).stdout.toString().trim();
  t.is(await treeOf(repo, next), tree);
  t.is((await t.throwsAsync(treeOf(repo, 'f'.repeat(40))) as any).code, 'not_found');
  t.is(await resolveRev(repo, 'proposed'), next);
  t.is(await resolveRev(repo, next.slice(0, 10)), next);
  t.is(await resolveRev(repo, 'nope'), null);
  t.is(await resolveRev(repo, '--all'), null);
  t.is(await resolveRev(repo, tree), null, 'a tree is not a commit');
  t.true(await commitExists(repo, next));
  t.false(await commitExists(repo, 'f'.repeat(40)));
  t.false(await commitExists(repo, 'not a sha at all'));
  t.false(await commitExists(repo, '--help'));
  t.false(await commitExists(repo, tree));
});

test('commitExists is false for a corrupt object', async (t) => {
  const { repo, next } = await make();
  const obj = path.join(repo, 'objects', next.slice(0, 2), next.slice(2));
  fs.chmodSync(obj, 0o644);
  fs.writeFileSync(obj, Buffer.from('this is not zlib data'));
  t.false(await commitExists(repo, next));
});
