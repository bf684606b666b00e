import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRepo } from '../../repos/store.ts';
import { commitFiles } from '../../repos/commit.ts';
import { changedPaths, diffSummary, patch, patchHash } from '../../repos/diff.ts';
import { readFileAt } from '../../repos/read.ts';
import { identityFor } from '../../repos/identity.ts';
import { git } from '../../repos/git.ts';
import { repoFixture } from '../helpers/repos.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const fixture = repoFixture('diff');
test.after.always(() => fixture.cleanup());
const make = fixture.make;
const alice = identityFor('alice');
const prompt = fs.readFileSync(path.join(ROOT, 'templates', 'agent', 'prompt.md'));

test('changedPaths and patch: rename, binary, non-UTF-8 text, modify, delete', async (t) => {
  const { repo, roots } = await make();
  const latin1 = Buffer.concat([Buffer.from('caf'), Buffer.from([0xe9]), Buffer.from('\nna\xefve\n', 'latin1')]);
  const head = await commitFiles(repo, {
    branch: 'proposed', message: 'mixed', author: alice, expectedOld: roots.config,
    files: {
      'prompt.md': null,
      'role/prompt.md': Buffer.concat([prompt, Buffer.from('one more line\n')]),
      'blob.bin': Buffer.from([0, 1, 2, 3, 0, 255, 254]),
      'latin1.txt': latin1,
      'hyperhive.json': '{"tools":{"allow":[],"deny":[]},"mcpServers":{},"env":{}}\n',
      'agent.nix': null,
    },
  });
  const changed = await changedPaths(repo, roots.config, head);
  const by = Object.fromEntries(changed.map((c) => [c.path, c]));
  t.deepEqual(changed.map((c) => c.path).sort(), ['agent.nix', 'blob.bin', 'hyperhive.json', 'latin1.txt', 'role/prompt.md']);
  t.like(by['role/prompt.md'], { status: 'R', oldPath: 'prompt.md', binary: false, additions: 1, deletions: 0 });
  t.like(by['blob.bin'], { status: 'A', binary: true, additions: 0, deletions: 0 });
  t.like(by['latin1.txt'], { status: 'A', binary: false, additions: 2, deletions: 0 });
  t.like(by['hyperhive.json'], { status: 'M', binary: false, additions: 1 });
  t.true(by['hyperhive.json'].deletions > 1);
  t.like(by['agent.nix'], { status: 'D', binary: false, additions: 0 });
  t.true(by['agent.nix'].deletions > 5);

  const p = await patch(repo, roots.config, head);
  t.true(p.startsWith('diff --git '));
  t.regex(p, /^rename from prompt\.md$/m);
  t.regex(p, /^rename to role\/prompt\.md$/m);
  t.regex(p, /^\+one more line$/m);
  t.regex(p, /^Binary files \/dev\/null and b\/blob\.bin differ$/m);
  t.regex(p, /^\+caf\uFFFD$/m, 'invalid UTF-8 survives as a replacement character');
  t.regex(p, /^deleted file mode 100644$/m);
  t.false(p.includes('\x1b['), 'no color');
  // the bytes themselves are kept in the repo
  t.deepEqual(await readFileAt(repo, head, 'latin1.txt'), latin1);

  t.regex(patchHash(p), /^[0-9a-f]{64}$/);
  t.is(patchHash(p), patchHash(await patch(repo, roots.config, head)));
  t.not(patchHash(p), patchHash(p + ' '));
  t.deepEqual(await changedPaths(repo, head, head), []);
  t.is(await patch(repo, head, head), '');

  // One git process for both: the same paths, and the same patch byte for byte (so the same hash).
  const both = await diffSummary(repo, roots.config, head);
  t.deepEqual(both.paths, changed);
  t.is(both.patch, p);
  t.deepEqual(await diffSummary(repo, head, head), { paths: [], patch: '' });
  const back = await diffSummary(repo, head, roots.config);
  t.deepEqual(back.paths, await changedPaths(repo, head, roots.config));
  t.is(back.patch, await patch(repo, head, roots.config));
});

test('diffSummary agrees with changedPaths and patch on names with spaces, tabs, quotes and non-ASCII', async (t) => {
  const { repo, roots } = await make();
  const h = await commitFiles(repo, {
    branch: 'proposed', message: 'odd names', author: alice, expectedOld: roots.config,
    files: { 'a b.txt': 'x\n', 'tab\there.txt': 'y\n', 'quote"d.txt': 'z\n', 'café/naïve.md': 'w\n', 'prompt.md': null },
  });
  const both = await diffSummary(repo, roots.config, h);
  t.deepEqual(both.paths, await changedPaths(repo, roots.config, h));
  t.deepEqual(both.paths.map((x) => x.path).sort(), ['a b.txt', 'café/naïve.md', 'prompt.md', 'quote"d.txt', 'tab\there.txt']);
  t.is(both.patch, await patch(repo, roots.config, h));
  // A tab in a name is part of the name in --numstat -z too: the counts land on the right path.
  t.like(both.paths.find((x) => x.path === 'tab\there.txt'), { status: 'A', additions: 1, deletions: 0, oldMode: '000000', newMode: '100644' });
});

test('names with newlines and a file turned into a symlink come out of the machine output exactly, with modes', async (t) => {
  const { repo, roots } = await make();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hh-diff-nl-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const env = { GIT_INDEX_FILE: path.join(dir, 'index'), GIT_AUTHOR_NAME: 'a', GIT_AUTHOR_EMAIL: 'a@example.org' };
  const g = async (args: string[], input?: string) => (await git(args, { repo, env, input })).stdout.toString().trim();
  await g(['read-tree', roots.config]);
  const blob = await g(['hash-object', '-w', '--stdin'], 'two\nlines\n');
  const link = await g(['hash-object', '-w', '--stdin'], '/etc/shadow');
  await g(['update-index', '-z', '--index-info'], `100644 ${blob}\tline\nbreak.md\u0000120000 ${link}\tprompt.md\u0000`);
  const tree = await g(['write-tree']);
  const head = await g(['commit-tree', tree, '-p', roots.config, '-m', 'odd']);
  const d = await diffSummary(repo, roots.config, head);
  t.deepEqual(d.paths.map((x) => [x.path, x.status, x.oldMode, x.newMode, x.additions, x.deletions]), [
    ['line\nbreak.md', 'A', '000000', '100644', 2, 0],
    ['prompt.md', 'T', '100644', '120000', 1, (await readFileAt(repo, roots.config, 'prompt.md'))!.toString().split('\n').length - 1],
  ]);
});

test('changedPaths and patch handle a 10 MB file', async (t) => {
  const { repo, roots } = await make();
  const line = 'x'.repeat(99) + '\n';
  const big = line.repeat(100_000); // 10 MB, 100k lines
  const c1 = await commitFiles(repo, { branch: 'proposed', message: 'big', author: alice, expectedOld: roots.config, files: { 'big.txt': big } });
  const lines = big.split('\n');
  lines[50_000] = 'changed';
  const c2 = await commitFiles(repo, { branch: 'proposed', message: 'edit big', author: alice, expectedOld: c1, files: { 'big.txt': lines.join('\n') } });
  t.deepEqual(await changedPaths(repo, roots.config, c1), [{ path: 'big.txt', status: 'A', oldMode: '000000', newMode: '100644', binary: false, additions: 100_000, deletions: 0 }]);
  t.deepEqual(await changedPaths(repo, c1, c2), [{ path: 'big.txt', status: 'M', oldMode: '100644', newMode: '100644', binary: false, additions: 1, deletions: 1 }]);
  const p1 = await patch(repo, roots.config, c1);
  t.true(p1.length > 10_000_000);
  const p2 = await patch(repo, c1, c2);
  t.regex(p2, /^\+changed$/m);
  t.true(p2.length < 5000);
  t.is((await readFileAt(repo, c1, 'big.txt'))!.length, big.length);
});

test('diff refuses revisions that look like options', async (t) => {
  const { repo, roots } = await make();
  t.is((await t.throwsAsync(changedPaths(repo, '--output=/tmp/x', roots.config)) as any).code, 'bad_request');
  t.is((await t.throwsAsync(patch(repo, roots.config, '-p')) as any).code, 'bad_request');
});
