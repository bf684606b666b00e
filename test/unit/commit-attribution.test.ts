import test from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { gitc } from '../helpers/git.ts';
import { tmpDir } from '../helpers/paths.ts';
import { fakeCore, OPERATOR, until } from '../helpers/fake-core.ts';

// Every commit a push brings is attributed to whoever pushed it, not only its tip (issue 15 item 6).
test('a push of two commits: both show the pusher; an earlier push keeps its own', async (t) => {
  const f = await fakeCore(t);
  await f.core.controller.createAgent('alpha', OPERATOR);
  const repo = f.core.paths.repo('alpha');
  const dir = tmpDir('hh-attr-');
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  gitc(dir, 'clone', '-q', '-b', 'proposed', repo, '.');
  const commit = (file: string, text: string) => { fs.writeFileSync(`${dir}/${file}`, text); gitc(dir, 'add', '-A'); gitc(dir, 'commit', '-qm', `edit ${file}`); return gitc(dir, 'rev-parse', 'HEAD'); };
  const first = commit('one.md', '1\n');
  gitc(dir, 'push', '-q', 'origin', 'HEAD:proposed');
  // A second push by another identity (the hook reads HYPERHIVE_PUSHER, as git over HTTP sets it).
  const mid = commit('two.md', '2\n');
  const tip = commit('three.md', '3\n');
  execFileSync('git', ['push', '-q', 'origin', 'HEAD:proposed'], { cwd: dir, env: { ...process.env, HYPERHIVE_PUSHER: 'bob' }, stdio: 'ignore' });
  f.core.reconciler.ingest();
  f.core.reconciler.enqueue('alpha');
  const req = await until('the request for the tip', () => { const o = f.core.controller.openChange('alpha'); return o?.head === tip ? o : null; });
  const commits = await f.core.controller.approvalCommits(req.id);
  const by = Object.fromEntries(commits.map((c) => [c.sha, c.proposer]));
  t.is(by[tip], 'bob');
  t.is(by[mid], 'bob', 'the commit below the tip came with the same push');
  t.is(by[first], 'local', 'the earlier push by path keeps its own pusher');
});
