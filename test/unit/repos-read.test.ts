import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRepo } from '../../repos/store.ts';
import { commitFiles } from '../../repos/commit.ts';
import { readFileAt, listTree, commitInfo, logRange } from '../../repos/read.ts';
import { identityFor } from '../../repos/identity.ts';
import { repoFixture } from '../helpers/repos.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const fixture = repoFixture('read');
test.after.always(() => fixture.cleanup());
const make = fixture.make;

test('readFileAt: content at a rev, null for a missing path, a directory or an unknown rev', async (t) => {
  const { repo, roots } = await make();
  const c = await commitFiles(repo, { branch: 'live', message: 'notes', author: identityFor('a'), expectedOld: roots.live, files: { 'notes.md': '# remember\n', 'd/e.txt': 'e' } });
  t.is((await readFileAt(repo, 'live', 'notes.md'))!.toString(), '# remember\n');
  t.is((await readFileAt(repo, roots.live, 'notes.md'))!.toString(), fs.readFileSync(path.join(ROOT, 'templates/live/notes.md'), 'utf8'));
  t.is((await readFileAt(repo, c.slice(0, 12), 'd/e.txt'))!.toString(), 'e');
  t.is(await readFileAt(repo, 'live', 'missing.md'), null);
  t.is(await readFileAt(repo, 'live', 'd'), null);
  t.is(await readFileAt(repo, 'f'.repeat(40), 'notes.md'), null);
  t.is(await readFileAt(repo, 'nobranch', 'notes.md'), null);
  t.is(await readFileAt(repo, 'live', ''), null);
});

test('listTree is recursive with modes, shas and sizes', async (t) => {
  const { repo, roots } = await make();
  const c = await commitFiles(repo, { branch: 'proposed', message: 'nest', author: identityFor('a'), expectedOld: roots.config, files: { 'a/b/c.txt': 'abc', 'with space.txt': '' } });
  const tree = await listTree(repo, c);
  const by = Object.fromEntries(tree.map((e) => [e.path, e]));
  t.like(by['a/b/c.txt'], { mode: '100644', size: 3 });
  t.regex(by['a/b/c.txt'].sha, /^[0-9a-f]{40}$/);
  t.like(by['with space.txt'], { size: 0 });
  t.truthy(by['agent.nix']);
  t.false(tree.some((e) => e.path === 'a' || e.path === 'a/b'));
  t.is((await t.throwsAsync(listTree(repo, 'nobranch')) as any).code, 'not_found');
});

test('commitInfo and logRange (newest first, base exclusive, limit, whole history)', async (t) => {
  const { repo, roots } = await make();
  const a = identityFor('a');
  const c1 = await commitFiles(repo, { branch: 'proposed', message: 'first', author: a, expectedOld: roots.config, files: { '1': '1' } });
  const c2 = await commitFiles(repo, { branch: 'proposed', message: 'second line one\nline two\n\nbody para 1\n\nbody para 2\n', author: a, expectedOld: c1, files: { '2': '2' } });
  const c3 = await commitFiles(repo, { branch: 'proposed', message: 'third', author: identityFor('operator'), expectedOld: c2, files: { '3': '3' } });
  const info = await commitInfo(repo, c2);
  t.is(info.sha, c2);
  t.deepEqual(info.parents, [c1]);
  t.is(info.subject, 'second line one line two');
  t.is(info.body, 'body para 1\n\nbody para 2');
  t.regex(info.tree, /^[0-9a-f]{40}$/);
  t.is((await commitInfo(repo, 'proposed')).sha, c3);
  t.is((await t.throwsAsync(commitInfo(repo, 'f'.repeat(40))) as any).code, 'not_found');

  t.deepEqual((await logRange(repo, roots.config, c3)).map((c) => c.sha), [c3, c2, c1]);
  t.deepEqual((await logRange(repo, c1, c3)).map((c) => c.subject), ['third', 'second line one line two']);
  t.deepEqual((await logRange(repo, null, c3)).map((c) => c.sha), [c3, c2, c1, roots.config]);
  t.deepEqual((await logRange(repo, null, c3, 2)).map((c) => c.sha), [c3, c2]);
  t.deepEqual(await logRange(repo, c3, c3), []);
  t.is((await logRange(repo, null, c3))[0].author.name, 'operator');
  t.is((await t.throwsAsync(logRange(repo, 'nope', c3)) as any).code, 'not_found');
});
