import test from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkoutRevision, checkedOutRevision } from '../../controller/runtime/checkout.ts';
import { HyperhiveError } from '../../controller/errors.ts';

const dirs: string[] = [];
test.after.always(() => { for (const d of dirs) fs.rmSync(d, { recursive: true, force: true }); });
const ENV = { ...process.env, GIT_AUTHOR_NAME: 'a', GIT_AUTHOR_EMAIL: 'a@example.com', GIT_COMMITTER_NAME: 'a', GIT_COMMITTER_EMAIL: 'a@example.com', GIT_CONFIG_NOSYSTEM: '1' };
const g = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, env: ENV, encoding: 'utf8' }).trim();

test('a revision is written whole: subdirectories, executable bits, a file named like the index; the next one drops removed files', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hh-checkout-'));
  dirs.push(root);
  const work = path.join(root, 'work');
  fs.mkdirSync(path.join(work, 'lib'), { recursive: true });
  g(work, 'init', '-q');
  fs.writeFileSync(path.join(work, 'agent.nix'), '{ }\n');
  fs.writeFileSync(path.join(work, 'lib', 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
  fs.writeFileSync(path.join(work, '.index'), 'not git\'s index\n');
  g(work, 'add', '-A'); g(work, 'commit', '-qm', 'one');
  const r1 = g(work, 'rev-parse', 'HEAD');
  fs.rmSync(path.join(work, 'lib'), { recursive: true });
  fs.writeFileSync(path.join(work, 'agent.nix'), '{ x = 1; }\n');
  g(work, 'add', '-A'); g(work, 'commit', '-qm', 'two');
  const r2 = g(work, 'rev-parse', 'HEAD');
  const repo = path.join(work, '.git');
  const out = path.join(root, 'agents', 'a', 'config');

  await checkoutRevision(repo, r1, out);
  t.is(fs.readFileSync(path.join(out, 'agent.nix'), 'utf8'), '{ }\n');
  t.true((fs.statSync(path.join(out, 'lib', 'run.sh')).mode & 0o111) !== 0, 'executable bit kept');
  t.is(fs.readFileSync(path.join(out, '.index'), 'utf8'), 'not git\'s index\n');
  t.is(await checkedOutRevision(out), r1);

  await checkoutRevision(repo, r2, out);
  t.is(fs.readFileSync(path.join(out, 'agent.nix'), 'utf8'), '{ x = 1; }\n');
  t.false(fs.existsSync(path.join(out, 'lib')), 'files removed by the change are gone');
  t.is(await checkedOutRevision(out), r2);
  t.deepEqual(fs.readdirSync(path.dirname(out)), ['config'], 'no temp dir, index or old copy left beside it');

  await t.throwsAsync(() => checkoutRevision(repo, 'f'.repeat(40), out));
  t.is(await checkedOutRevision(out), r2, 'a failed checkout leaves the current one');
  t.deepEqual(fs.readdirSync(path.dirname(out)), ['config']);
});

test('a revision holding a symbolic link is refused, in or out of the tree, at any depth; the current checkout stays', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hh-checkout-link-'));
  dirs.push(root);
  const work = path.join(root, 'work');
  fs.mkdirSync(work, { recursive: true });
  g(work, 'init', '-q');
  fs.writeFileSync(path.join(work, 'prompt.md'), 'be helpful\n');
  g(work, 'add', '-A'); g(work, 'commit', '-qm', 'plain');
  const plain = g(work, 'rev-parse', 'HEAD');
  fs.rmSync(path.join(work, 'prompt.md'));
  fs.symlinkSync('/etc/shadow', path.join(work, 'prompt.md'));
  g(work, 'add', '-A'); g(work, 'commit', '-qm', 'prompt to a host file');
  const outward = g(work, 'rev-parse', 'HEAD');
  g(work, 'reset', '-q', '--hard', plain);
  fs.mkdirSync(path.join(work, 'a', 'b'), { recursive: true });
  fs.symlinkSync('../../prompt.md', path.join(work, 'a', 'b', 'inner.md'));
  g(work, 'add', '-A'); g(work, 'commit', '-qm', 'a link inside the tree');
  const inward = g(work, 'rev-parse', 'HEAD');
  const repo = path.join(work, '.git');
  const out = path.join(root, 'agents', 'a', 'config');

  await checkoutRevision(repo, plain, out);
  const e1 = await t.throwsAsync(() => checkoutRevision(repo, outward, out), { instanceOf: HyperhiveError });
  t.is(e1?.code, 'unprocessable');
  t.regex(e1!.message, new RegExp(`revision ${outward.slice(0, 7)} cannot be checked out: prompt\\.md is a symbolic link \\(mode 120000\\)`));
  const e2 = await t.throwsAsync(() => checkoutRevision(repo, inward, out), { instanceOf: HyperhiveError });
  t.regex(e2!.message, /a\/b\/inner\.md is a symbolic link/);
  t.is(await checkedOutRevision(out), plain, 'the current checkout stays');
  t.false(fs.lstatSync(path.join(out, 'prompt.md')).isSymbolicLink());
  t.is(fs.readFileSync(path.join(out, 'prompt.md'), 'utf8'), 'be helpful\n');
  t.deepEqual(fs.readdirSync(path.dirname(out)), ['config'], 'no temp dir left beside it');
});
