import test from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DiffRenderer, planCollapse, patchHashOf } from '../../web/views/diff.ts';

const git = (cwd: string, ...args: string[]): string =>
  execFileSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.invalid', '-c', 'commit.gpgsign=false', ...args], { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });

/** 50 files × 100 changed lines, one rename, one binary file, one hostile file name; real git. */
function makeBigPatch(): { small: string; big: string; binaryPatch: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hh-web-diff-'));
  git(dir, 'init', '-q', '-b', 'main');
  for (let i = 0; i < 50; i++) {
    fs.writeFileSync(path.join(dir, `f${String(i).padStart(2, '0')}.txt`), Array.from({ length: 100 }, (_, j) => `old ${i} line ${j}`).join('\n') + '\n');
  }
  fs.writeFileSync(path.join(dir, 'moved-from.md'), Array.from({ length: 40 }, (_, j) => `stable text ${j}`).join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'logo.bin'), Buffer.from([0, 1, 2, 3, 255, 0, 7]));
  git(dir, 'add', '.');
  git(dir, 'commit', '-qm', 'base');
  for (let i = 0; i < 50; i++) {
    fs.writeFileSync(path.join(dir, `f${String(i).padStart(2, '0')}.txt`), Array.from({ length: 100 }, (_, j) => `new ${i} line ${j}`).join('\n') + '\n');
  }
  git(dir, 'mv', 'moved-from.md', 'moved-to.md');
  fs.writeFileSync(path.join(dir, 'logo.bin'), Buffer.from([0, 9, 9, 9, 255, 0, 7, 1]));
  fs.writeFileSync(path.join(dir, '<img src=x onerror=alert(1)>.txt'), 'pwn\n');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-qm', 'change');
  const big = git(dir, 'diff', '-M', 'HEAD~1', 'HEAD');
  const binaryPatch = git(dir, 'diff', '-M', '--binary', 'HEAD~1', 'HEAD', '--', 'logo.bin');
  const small = git(dir, 'diff', '-M', 'HEAD~1', 'HEAD', '--', 'f00.txt', 'moved-from.md', 'moved-to.md', 'logo.bin');
  fs.rmSync(dir, { recursive: true, force: true });
  return { small, big, binaryPatch };
}

const patches = makeBigPatch();
/** Text as the reader sees it: diff2html wraps changed words in <ins>/<del>. */
const text = (h: string): string => h.replace(/<[^>]+>/g, '');

test('a small change renders every file with diff2html, names the rename and the binary file', (t) => {
  const r = new DiffRenderer();
  const d = r.render(patches.small, 'side-by-side');
  t.false(d.large);
  t.deepEqual(d.files.map((f) => [f.path, f.status, f.binary, f.collapsed]), [
    ['f00.txt', 'modified', false, false],
    ['logo.bin', 'modified', true, false],
    ['moved-to.md', 'renamed', false, false],
  ]);
  t.is(d.files.find((f) => f.status === 'renamed')!.oldPath, 'moved-from.md');
  t.is(d.added, 100);
  t.is(d.deleted, 100);
  t.regex(d.body.value, /d2h-files-diff/); // side-by-side markup
  t.regex(text(d.body.value), /new 0 line 42/);
  t.regex(text(d.body.value), /old 0 line 42/);
  t.regex(d.body.value, /Binary file/);
  t.regex(d.fileList.value, /moved-from\.md → moved-to\.md/);
  t.regex(d.fileList.value, /hh-tag-binary/);
  const line = r.render(patches.small, 'line-by-line');
  t.regex(line.body.value, /d2h-file-diff/);
  t.notRegex(line.body.value, /d2h-files-diff/);
});

test('a binary patch made with --binary is named as binary, not rendered as text', (t) => {
  const d = new DiffRenderer().render(patches.binaryPatch);
  t.is(d.files.length, 1);
  t.true(d.files[0]!.binary);
  t.is(d.files[0]!.path, 'logo.bin');
});

test('a 50-file 10,000-line change collapses files past the threshold and renders them on demand', (t) => {
  const r = new DiffRenderer();
  const d = r.render(patches.big);
  t.true(d.large);
  t.is(d.files.length, 53);
  t.is(d.added + d.deleted, 50 * 200 + 1); // + the new hostile-named file's line
  const expanded = d.files.filter((f) => !f.collapsed && !f.binary);
  const collapsed = d.files.filter((f) => f.collapsed);
  t.true(expanded.length >= 1 && expanded.length <= 10, `${expanded.length} expanded`);
  t.true(collapsed.length >= 40, `${collapsed.length} collapsed`);
  // Collapsed files are named (with counts) but their lines are not in the page.
  const last = d.files.find((f) => f.path === 'f49.txt')!;
  t.true(last.collapsed);
  t.regex(d.body.value, /data-path="f49\.txt"/);
  t.notRegex(text(d.body.value), /new 49 line 42/);
  t.true(d.body.value.length < 1_500_000, `page body ${d.body.value.length} chars`);
  const frag = r.renderFile(patches.big, 'f49.txt', 'line-by-line');
  t.truthy(frag);
  t.regex(text(frag!.value), /new 49 line 42/);
  t.regex(frag!.value, /id="hh-file-\d+"/);
  t.is(r.renderFile(patches.big, 'no/such/file.txt'), null);
});

test('file names and contents are escaped', (t) => {
  const d = new DiffRenderer().render(patches.big);
  const all = d.fileList.value + d.body.value;
  t.notRegex(all, /<img src=x/);
  t.regex(d.fileList.value, /&lt;img src=x onerror=alert\(1\)&gt;\.txt/);
});

test('rendered output is cached by patch hash and the cache stays within its byte budget', (t) => {
  const r = new DiffRenderer({ maxCacheBytes: 4 * 1024 * 1024 });
  const hash = patchHashOf(patches.big);
  const a = r.render(patches.big, 'side-by-side', hash);
  const n = r.renders;
  const b = r.render(patches.big, 'side-by-side', hash);
  t.is(a, b);
  t.is(r.renders, n, 'second render served from cache');
  r.renderFile(patches.big, 'f40.txt', 'side-by-side', hash);
  r.renderFile(patches.big, 'f40.txt', 'side-by-side', hash);
  t.is(r.renders, n + 1);
  for (const f of ['f41.txt', 'f42.txt', 'f43.txt', 'f44.txt', 'f45.txt']) r.renderFile(patches.big, f, 'line-by-line', hash);
  t.true(r.cacheBytes <= 4 * 1024 * 1024, `${r.cacheBytes} bytes cached`);
});

test('planCollapse: small changes stay expanded except single huge files', (t) => {
  t.deepEqual(planCollapse([{ added: 10, deleted: 0, binary: false }, { added: 3000, deleted: 0, binary: false }]),
    { large: false, collapsed: [false, true] });
  const many = Array.from({ length: 60 }, () => ({ added: 1, deleted: 1, binary: false }));
  const p = planCollapse(many, { expandedFiles: 10 });
  t.true(p.large);
  t.is(p.collapsed.filter((c) => !c).length, 10);
  t.deepEqual(planCollapse([]), { large: false, collapsed: [] });
});

test('an empty patch renders a note, not an error', (t) => {
  const d = new DiffRenderer().render('');
  t.is(d.files.length, 0);
  t.regex(d.body.value, /No file changes/);
});

test('a symbolic link is shown as one, with its target, never as an added file whose content is the target', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hh-web-diff-link-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  git(dir, 'init', '-q', '-b', 'main');
  fs.writeFileSync(path.join(dir, 'prompt.md'), 'be helpful\n');
  fs.symlinkSync('old-target', path.join(dir, 'gone'));
  git(dir, 'add', '.');
  git(dir, 'commit', '-qm', 'base');
  fs.rmSync(path.join(dir, 'prompt.md'));
  fs.symlinkSync('/etc/shadow', path.join(dir, 'prompt.md'));
  fs.symlinkSync('../<b>x</b>', path.join(dir, 'new-link'));
  fs.rmSync(path.join(dir, 'gone'));
  git(dir, 'add', '-A');
  git(dir, 'commit', '-qm', 'links');
  const d = new DiffRenderer().render(git(dir, 'diff', '-M', 'HEAD~1', 'HEAD'));
  t.deepEqual(d.files.map((f) => [f.path, f.status, f.kind, f.target]), [
    ['gone', 'deleted', 'symlink', 'old-target'],
    ['new-link', 'added', 'symlink', '../<b>x</b>'],
    // A file turned into a link is two sections in git's patch: the file deleted, the link added.
    ['prompt.md', 'deleted', 'file', null],
    ['prompt.md', 'added', 'symlink', '/etc/shadow'],
  ]);
  const list = text(d.fileList.value);
  t.regex(list, /added symbolic link prompt\.md → \/etc\/shadow/);
  t.regex(d.body.value, /<strong>prompt\.md<\/strong> is a symbolic link \(mode 120000\) to <code>\/etc\/shadow<\/code>/);
  t.notRegex(d.fileList.value + d.body.value, /<b>x<\/b>/, 'the target is escaped');
});

test('with git\'s path list the sections are named from it: spaces, tabs, quotes, newlines, unicode, a type change; without it the header tab is dropped', async (t) => {
  const { diffSummary } = await import('../../repos/diff.ts');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hh-web-diff-names-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  git(dir, 'init', '-q', '-b', 'main');
  fs.writeFileSync(path.join(dir, 'kind.md'), 'a file for now\n');
  fs.writeFileSync(path.join(dir, 'old name.md'), Array.from({ length: 20 }, (_, i) => `same ${i}`).join('\n') + '\n');
  git(dir, 'add', '.');
  git(dir, 'commit', '-qm', 'base');
  const names = ['a b.md', 'tab\there.md', 'quo"te.md', 'ünï cödé.md', 'new\nline.md'];
  for (const n of names) fs.writeFileSync(path.join(dir, n), `${n.length}\n`);
  fs.rmSync(path.join(dir, 'kind.md'));
  fs.symlinkSync('elsewhere', path.join(dir, 'kind.md'));
  fs.renameSync(path.join(dir, 'old name.md'), path.join(dir, 'new name.md'));
  git(dir, 'add', '-A');
  git(dir, 'commit', '-qm', 'names');
  const gitDir = path.join(dir, '.git');
  const base = git(dir, 'rev-parse', 'HEAD~1').trim();
  const head = git(dir, 'rev-parse', 'HEAD').trim();
  const source = await diffSummary(gitDir, base, head);
  const r = new DiffRenderer();
  const d = r.render(source);
  t.deepEqual(d.files.map((f) => [f.path, f.status, f.oldPath]).sort(), [
    ['a b.md', 'added', null], ['kind.md', 'added', null], ['kind.md', 'deleted', null], ['new name.md', 'renamed', 'old name.md'],
    ['new\nline.md', 'added', null], ['quo"te.md', 'added', null], ['tab\there.md', 'added', null], ['ünï cödé.md', 'added', null],
  ].sort());
  for (const n of [...names, 'new name.md', 'old name.md', 'kind.md']) t.truthy(r.renderFile(source, n), `renderFile finds ${JSON.stringify(n)}`);
  t.is(r.renderFile(source, 'a b.md\t'), null);
  // The bare patch (no list): the trailing tab of the header is gone at least.
  const bare = new DiffRenderer().render(source.patch);
  t.true(bare.files.some((f) => f.path === 'a b.md'));
  t.false(bare.files.some((f) => f.path.endsWith('\t')));
});
