import test from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkoutRevision, checkedOutRevision } from '../../controller/runtime/checkout.ts';

const dirs: string[] = [];
test.after.always(() => { for (const d of dirs) fs.rmSync(d, { recursive: true, force: true }); });
const ENV = { ...process.env, GIT_AUTHOR_NAME: 'a', GIT_AUTHOR_EMAIL: 'a@example.com', GIT_COMMITTER_NAME: 'a', GIT_COMMITTER_EMAIL: 'a@example.com', GIT_CONFIG_NOSYSTEM: '1' };
const g = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, env: ENV, encoding: 'utf8' }).trim();

test('a revision is written whole: subdirectories, executable bits, symlinks, a file named like the index; the next one drops removed files', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hh-checkout-'));
  dirs.push(root);
  const work = path.join(root, 'work');
  fs.mkdirSync(path.join(work, 'lib'), { recursive: true });
  g(work, 'init', '-q');
  fs.writeFileSync(path.join(work, 'agent.nix'), '{ }\n');
  fs.writeFileSync(path.join(work, 'lib', 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
  fs.writeFileSync(path.join(work, '.index'), 'not git\'s index\n');
  fs.symlinkSync('agent.nix', path.join(work, 'link.nix'));
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
  t.is(fs.readlinkSync(path.join(out, 'link.nix')), 'agent.nix');
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
