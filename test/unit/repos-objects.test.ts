import test from 'ava';
import fs from 'node:fs';
import { commitFiles } from '../../repos/commit.ts';
import { git } from '../../repos/git.ts';
import { identityFor } from '../../repos/identity.ts';
import { readLooseCommit, looseIsAncestor, looseTreeOf, looseObjectPath } from '../../repos/objects.ts';
import { isAncestor, treeOf } from '../../repos/refs.ts';
import { repoFixture } from '../helpers/repos.ts';

const fixture = repoFixture('objects');
test.after.always(() => fixture.cleanup());
const alice = identityFor('alice');

const AUTHOR = { GIT_AUTHOR_NAME: 'alice', GIT_AUTHOR_EMAIL: 'alice@example.com' };
const gitOut = async (repo: string, args: string[]) => (await git(args, { repo, env: AUTHOR })).stdout.toString('utf8').trim();

/** A small history: root → c1 → c2 on proposed, and a side commit off root. */
async function history() {
  const { repo, roots } = await fixture.make();
  const c1 = await commitFiles(repo, { branch: 'proposed', message: 'one', author: alice, expectedOld: roots.config, files: { 'a.txt': '1\n' } });
  const c2 = await commitFiles(repo, { branch: 'proposed', message: 'two', author: alice, expectedOld: c1, files: { 'a.txt': '2\n' } });
  const tree = await gitOut(repo, ['rev-parse', `${roots.config}^{tree}`]);
  const side = await gitOut(repo, ['commit-tree', tree, '-p', roots.config, '-m', 'side']);
  const merge = await gitOut(repo, ['commit-tree', tree, '-p', c2, '-p', side, '-m', 'merge']);
  return { repo, root: roots.config, c1, c2, side, merge };
}

test('loose commits read in-process agree with git: tree and parents', async (t) => {
  const h = await history();
  for (const sha of [h.root, h.c1, h.c2, h.side, h.merge]) {
    const c = readLooseCommit(h.repo, sha);
    t.truthy(c, `${sha} is loose`);
    t.is(c!.tree, await gitOut(h.repo, ['rev-parse', `${sha}^{tree}`]));
    const parents = (await gitOut(h.repo, ['rev-list', '--parents', '-n', '1', sha])).split(' ').slice(1);
    t.deepEqual(c!.parents, parents);
    t.is(looseTreeOf(h.repo, sha), c!.tree);
  }
  // a tree or blob is not a commit; a malformed id is not read at all
  t.is(readLooseCommit(h.repo, readLooseCommit(h.repo, h.c1)!.tree), null);
  t.is(readLooseCommit(h.repo, '../../etc/passwd'), null);
  t.is(readLooseCommit(h.repo, 'f'.repeat(40)), null);
});

test('ancestry walked over loose commits agrees with git merge-base --is-ancestor', async (t) => {
  const h = await history();
  const all = [h.root, h.c1, h.c2, h.side, h.merge];
  for (const a of all) {
    for (const b of all) {
      const r = await git(['merge-base', '--is-ancestor', a, b], { repo: h.repo, allowFail: true });
      t.is(looseIsAncestor(h.repo, a, b), r.code === 0, `${a.slice(0, 7)} ancestor of ${b.slice(0, 7)}`);
      t.is(await isAncestor(h.repo, a, b), r.code === 0);
    }
  }
});

test('packed, damaged or grafted history: null, and git answers instead', async (t) => {
  const h = await history();
  const tree = await gitOut(h.repo, ['rev-parse', `${h.c2}^{tree}`]);
  // a walk longer than its budget gives up
  t.is(looseIsAncestor(h.repo, h.root, h.c2, 1), null);
  // a damaged loose object is not trusted; git reports it
  const obj = looseObjectPath(h.repo, h.c1);
  const saved = fs.readFileSync(obj);
  fs.chmodSync(obj, 0o644);
  fs.writeFileSync(obj, saved.subarray(0, saved.length - 4));
  t.is(readLooseCommit(h.repo, h.c1), null);
  t.is(looseIsAncestor(h.repo, h.root, h.c2), null);
  await t.throwsAsync(() => isAncestor(h.repo, h.root, h.c2));
  fs.writeFileSync(obj, saved);
  // after gc everything is packed: the in-process reads step aside, git still answers
  await git(['gc', '--quiet', '--prune=now'], { repo: h.repo });
  t.false(fs.existsSync(obj));
  t.is(readLooseCommit(h.repo, h.c2), null);
  t.is(looseIsAncestor(h.repo, h.c1, h.c2), null);
  t.true(await isAncestor(h.repo, h.c1, h.c2));
  t.is(await treeOf(h.repo, h.c2), tree);
  // a shallow file (or grafts, replace refs) could make git see another history: not walked here
  const c3 = await commitFiles(h.repo, { branch: 'proposed', message: 'three', author: alice, expectedOld: h.c2, files: { 'b.txt': 'b\n' } });
  t.true(looseIsAncestor(h.repo, h.c2, c3)!);
  fs.writeFileSync(`${h.repo}/shallow`, `${h.c2}\n`);
  t.is(looseIsAncestor(h.repo, h.c2, c3), null);
});
