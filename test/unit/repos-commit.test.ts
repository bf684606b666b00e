import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRepo } from '../../repos/store.ts';
import { readRef, treeOf } from '../../repos/refs.ts';
import { commitFiles, commitTree } from '../../repos/commit.ts';
import { readFileAt, listTree, commitInfo, logRange } from '../../repos/read.ts';
import { git } from '../../repos/git.ts';
import { identityFor } from '../../repos/identity.ts';
import { repoFixture } from '../helpers/repos.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const fixture = repoFixture('commit');
test.after.always(() => fixture.cleanup());
const make = fixture.make;
const alice = identityFor('alice');

/** `base`'s tree plus entries written with plumbing, in modes commitFiles never writes itself. */
async function treeWith(t: { teardown(fn: () => void): void }, repo: string, base: string, entries: { mode: string; path: string; content?: string; sha?: string }[]): Promise<string> {
  const idx = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hh-idx-')), 'index');
  t.teardown(() => fs.rmSync(path.dirname(idx), { recursive: true, force: true }));
  const env = { GIT_INDEX_FILE: idx };
  await git(['read-tree', base], { repo, env });
  for (const e of entries) {
    const sha = e.sha ?? (await git(['hash-object', '-w', '--stdin'], { repo, input: e.content ?? '' })).stdout.toString().trim();
    await git(['update-index', '--add', '--cacheinfo', `${e.mode},${sha},${e.path}`], { repo, env });
  }
  return (await git(['write-tree'], { repo, env })).stdout.toString().trim();
}

test('commitFiles adds, modifies, deletes and nests in one commit on top of expectedOld', async (t) => {
  const { repo, roots } = await make();
  const sha = await commitFiles(repo, {
    branch: 'proposed', message: 'change things\n\nwith a body', author: alice, expectedOld: roots.config, pusher: 'alice',
    files: { 'new.txt': 'new\n', 'prompt.md': 'new prompt\n', 'agent.nix': null, 'deep/er/file.bin': Buffer.from([0, 1, 2, 255]) },
  });
  t.is(await readRef(repo, 'proposed'), sha);
  t.is(await readRef(repo, 'applied'), roots.config, 'other branches untouched');
  const info = await commitInfo(repo, sha);
  t.deepEqual(info.parents, [roots.config]);
  t.is(info.subject, 'change things');
  t.is(info.body, 'with a body');
  t.deepEqual(info.author, { name: 'alice', email: 'alice@hyperhive.local', date: info.author.date });
  t.true(Math.abs(info.author.date - Date.now()) < 10 * 60_000);
  t.is((await git(['log', '-1', '--format=%cn <%ce>', sha], { repo })).stdout.toString().trim(), 'hyperhive <controller@hyperhive.local>');
  t.deepEqual((await listTree(repo, sha)).map((e) => e.path).sort(), ['deep/er/file.bin', 'hyperhive.json', 'new.txt', 'prompt.md']);
  t.is((await readFileAt(repo, sha, 'prompt.md'))!.toString(), 'new prompt\n');
  t.deepEqual(await readFileAt(repo, sha, 'deep/er/file.bin'), Buffer.from([0, 1, 2, 255]));
  t.is(await readFileAt(repo, sha, 'agent.nix'), null);
  t.is(await readFileAt(repo, roots.config, 'agent.nix') !== null, true);
});

test('commitFiles: a stale expectedOld fails with ref_moved and leaves the ref unchanged', async (t) => {
  const { repo, roots } = await make();
  const first = await commitFiles(repo, { branch: 'proposed', files: { 'a.txt': '1' }, message: 'one', author: alice, expectedOld: roots.config });
  const err = await t.throwsAsync(commitFiles(repo, { branch: 'proposed', files: { 'a.txt': '2' }, message: 'two', author: alice, expectedOld: roots.config }));
  t.is((err as any).code, 'ref_moved');
  t.is(await readRef(repo, 'proposed'), first);
  t.is((await readFileAt(repo, 'proposed', 'a.txt'))!.toString(), '1');
});

test('commitFiles refuses bad paths without touching the ref', async (t) => {
  const { repo, roots } = await make();
  const bad = ['', '/etc/passwd', '../x', 'a/../b', '.git/config', 'a/.git/hooks/x', 'a/.GIT/x', 'a//b', './a', 'a/', 'a\\b'];
  for (const p of bad) {
    const err = await t.throwsAsync(commitFiles(repo, { branch: 'proposed', files: { [p]: 'x' }, message: 'm', author: alice, expectedOld: roots.config }), undefined, JSON.stringify(p));
    t.is((err as any).code, 'bad_request', JSON.stringify(p));
  }
  t.is(await readRef(repo, 'proposed'), roots.config);
});

test('commitFiles refuses a file/directory clash unless the file is deleted in the same commit', async (t) => {
  const { repo, roots } = await make();
  const err = await t.throwsAsync(commitFiles(repo, { branch: 'proposed', files: { 'prompt.md/x': 'x' }, message: 'm', author: alice, expectedOld: roots.config }));
  t.is((err as any).code, 'bad_request');
  const sha = await commitFiles(repo, { branch: 'proposed', files: { 'prompt.md': null, 'prompt.md/x': 'x' }, message: 'm', author: alice, expectedOld: roots.config });
  t.is((await readFileAt(repo, sha, 'prompt.md/x'))!.toString(), 'x');
});

test('commitFiles keeps the executable bit of a rewritten file', async (t) => {
  const { repo, roots } = await make();
  // give a file mode 100755 with plumbing, then rewrite it through commitFiles
  const tree = await treeWith(t, repo, roots.config, [{ mode: '100755', content: '#!/bin/sh\n', path: 'run.sh' }]);
  const c1 = await commitTree(repo, { branch: 'proposed', tree, parents: [roots.config], message: 'exec', author: alice, expectedOld: roots.config });
  const c2 = await commitFiles(repo, { branch: 'proposed', files: { 'run.sh': '#!/bin/sh\necho hi\n' }, message: 'edit', author: alice, expectedOld: c1 });
  t.is((await listTree(repo, c2)).find((e) => e.path === 'run.sh')!.mode, '100755');
});

test('commitTree makes a commit with the given tree and parents, then CAS', async (t) => {
  const { repo, roots } = await make();
  const c1 = await commitFiles(repo, { branch: 'proposed', files: { 'a.txt': '1' }, message: 'one', author: alice, expectedOld: roots.config });
  // revert proposed to applied's tree with a new commit on top
  const revert = await commitTree(repo, { branch: 'proposed', tree: await treeOf(repo, roots.config), parents: [c1], message: 'Revert to applied', author: identityFor('operator'), expectedOld: c1, pusher: 'operator' });
  t.is(await readRef(repo, 'proposed'), revert);
  t.is(await treeOf(repo, revert), await treeOf(repo, roots.config));
  t.deepEqual((await commitInfo(repo, revert)).parents, [c1]);
  t.deepEqual((await logRange(repo, roots.config, revert)).map((c) => c.sha), [revert, c1]);
  const err = await t.throwsAsync(commitTree(repo, { branch: 'proposed', tree: await treeOf(repo, roots.config), parents: [c1], message: 'again', author: alice, expectedOld: c1 }));
  t.is((err as any).code, 'ref_moved');
  t.is(await readRef(repo, 'proposed'), revert);
  const err2 = await t.throwsAsync(commitTree(repo, { branch: 'proposed', tree: 'f'.repeat(40), parents: [revert], message: 'x', author: alice, expectedOld: revert }));
  t.is((err2 as any).code, 'not_found');
});

test('commitTree refuses a tree holding a symlink or a gitlink (an old revision brought back), naming the paths; commitFiles writes a link path as a regular file', async (t) => {
  const { repo, roots } = await make();
  const tree = await treeWith(t, repo, roots.config, [{ mode: '120000', content: '/etc/shadow', path: 'prompt.md' }, { mode: '160000', sha: roots.config, path: 'vendor/lib' }]);
  const err = await t.throwsAsync(commitTree(repo, { branch: 'proposed', tree, parents: [roots.config], message: 'bring back a link', author: alice, expectedOld: roots.config }));
  t.is((err as any).code, 'unprocessable');
  t.regex(err!.message, /prompt\.md is a symbolic link \(mode 120000\).*vendor\/lib is a gitlink \(mode 160000/);
  t.is(await readRef(repo, 'proposed'), roots.config, 'proposed did not move');
  const c = await commitFiles(repo, { branch: 'proposed', files: { 'prompt.md': 'a prompt\n' }, message: 'edit', author: alice, expectedOld: roots.config });
  t.is((await listTree(repo, c)).find((e) => e.path === 'prompt.md')!.mode, '100644');
});

test('a template directory holding a symbolic link is refused when a repo is made, naming it', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hh-tpl-link-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const templates = path.join(dir, 'templates');
  fs.cpSync(path.join(ROOT, 'templates'), templates, { recursive: true });
  fs.rmSync(path.join(templates, 'agent', 'prompt.md'));
  fs.symlinkSync('/etc/shadow', path.join(templates, 'agent', 'prompt.md'));
  const err = await t.throwsAsync(createRepo(path.join(dir, 'x.git'), { agent: 'x', templatesDir: templates, eventsFile: path.join(dir, 'refs.jsonl'), author: identityFor('operator'), projectRoot: ROOT }));
  t.regex(err!.message, /prompt\.md is a symbolic link: templates hold regular files only/);
  t.false(fs.existsSync(path.join(dir, 'x.git')), 'no repo left behind');
});

test('commitFiles validates identity, message and expectedOld', async (t) => {
  const { repo, roots } = await make();
  const base = { branch: 'proposed' as const, files: { 'a.txt': '1' }, message: 'm', author: alice, expectedOld: roots.config };
  t.is((await t.throwsAsync(commitFiles(repo, { ...base, author: { name: 'x>y', email: 'e' } })) as any).code, 'bad_request');
  t.is((await t.throwsAsync(commitFiles(repo, { ...base, message: '  ' })) as any).code, 'bad_request');
  t.is((await t.throwsAsync(commitFiles(repo, { ...base, expectedOld: 'proposed' })) as any).code, 'bad_request');
  t.is((await t.throwsAsync(commitFiles(repo, { ...base, files: {} })) as any).code, 'bad_request');
  t.is(await readRef(repo, 'proposed'), roots.config);
});

const setLock = (file: string, ageMs: number): void => {
  fs.writeFileSync(file, '');
  const s = (Date.now() - ageMs) / 1000;
  fs.utimesSync(file, s, s);
};

test('commitFiles and commitTree get past a stale branch lock left by a killed git: removed once, then the CAS', async (t) => {
  const { repo, roots } = await make();
  const lock = path.join(repo, 'refs', 'heads', 'live.lock');
  setLock(lock, 120_000);
  const sha = await commitFiles(repo, { branch: 'live', files: { model: 'opus\n' }, message: 'Set model', author: alice, expectedOld: roots.live, pusher: 'alice' });
  t.is(await readRef(repo, 'live'), sha);
  t.false(fs.existsSync(lock));
  const plock = path.join(repo, 'refs', 'heads', 'proposed.lock');
  setLock(plock, 31_000);
  const rv = await commitTree(repo, { branch: 'proposed', tree: await treeOf(repo, roots.config), parents: [roots.config], message: 'revert', author: alice, expectedOld: roots.config });
  t.is(await readRef(repo, 'proposed'), rv);
  t.false(fs.existsSync(plock));
  // a stale lock does not turn a moved ref into a success
  setLock(plock, 120_000);
  const err = await t.throwsAsync(commitFiles(repo, { branch: 'proposed', files: { 'a.txt': '1' }, message: 'm', author: alice, expectedOld: roots.config }));
  t.is((err as any).code, 'ref_moved');
  t.is(await readRef(repo, 'proposed'), rv);
});

test('commitFiles and commitTree refuse to touch a young branch lock: conflict naming the lock file', async (t) => {
  const { repo, roots } = await make();
  const lock = path.join(repo, 'refs', 'heads', 'proposed.lock');
  setLock(lock, 0);
  const err = await t.throwsAsync(commitFiles(repo, { branch: 'proposed', files: { 'a.txt': '1' }, message: 'm', author: alice, expectedOld: roots.config }));
  t.is((err as any).code, 'conflict');
  t.true(err!.message.includes(lock), err!.message);
  t.regex(err!.message, /another update of the branch is in progress/);
  t.true(fs.existsSync(lock), 'the lock of an update in progress stays');
  t.is(await readRef(repo, 'proposed'), roots.config);
  setLock(lock, 10_000);
  const err2 = await t.throwsAsync(commitTree(repo, { branch: 'proposed', tree: await treeOf(repo, roots.config), parents: [roots.config], message: 'x', author: alice, expectedOld: roots.config }));
  t.is((err2 as any).code, 'conflict');
  t.true(fs.existsSync(lock));
  fs.rmSync(lock);
  const sha = await commitFiles(repo, { branch: 'proposed', files: { 'a.txt': '1' }, message: 'm', author: alice, expectedOld: roots.config });
  t.is(await readRef(repo, 'proposed'), sha);
});
