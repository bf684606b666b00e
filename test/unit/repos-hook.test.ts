import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRepo, installHooks } from '../../repos/store.ts';
import { casRef, readRef } from '../../repos/refs.ts';
import { commitFiles } from '../../repos/commit.ts';
import { git } from '../../repos/git.ts';
import { identityFor } from '../../repos/identity.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dirs: string[] = [];
test.after.always(() => { for (const d of dirs) fs.rmSync(d, { recursive: true, force: true }); });

interface Ev { agent: string; ref: string; old: string; new: string; pusher: string; ts: number }

async function make(agent = 'hooky') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hh-repos-hook-'));
  dirs.push(dir);
  const repo = path.join(dir, 'repos', `${agent}.git`);
  const eventsFile = path.join(dir, 'events', 'refs.jsonl');
  const roots = await createRepo(repo, { agent, templatesDir: path.join(ROOT, 'templates'), eventsFile, author: identityFor('operator'), projectRoot: ROOT });
  const events = (): Ev[] => {
    if (!fs.existsSync(eventsFile)) return [];
    return fs.readFileSync(eventsFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Ev);
  };
  return { dir, repo, roots, eventsFile, events };
}

test('creating the repo records no events', async (t) => {
  const { events } = await make();
  t.deepEqual(events(), []);
});

test('a push by path with the git CLI is recorded with pusher "local"', async (t) => {
  const { dir, repo, roots, events } = await make();
  const work = path.join(dir, 'clone');
  await git(['clone', '--quiet', repo, work]);
  t.is((await git(['rev-parse', 'HEAD'], { cwd: work })).stdout.toString().trim(), roots.config);
  fs.writeFileSync(path.join(work, 'extra.md'), 'pushed by hand\n');
  await git(['add', 'extra.md'], { cwd: work });
  await git(['commit', '--quiet', '-m', 'hand-made'], { cwd: work, env: { GIT_AUTHOR_NAME: 'dev', GIT_AUTHOR_EMAIL: 'dev@example.org' } });
  const head = (await git(['rev-parse', 'HEAD'], { cwd: work })).stdout.toString().trim();
  const before = Date.now();
  await git(['push', '--quiet', 'origin', 'HEAD:proposed'], { cwd: work });
  t.is(await readRef(repo, 'proposed'), head);
  const ev = events();
  t.is(ev.length, 1);
  t.like(ev[0], { agent: 'hooky', ref: 'refs/heads/proposed', old: roots.config, new: head, pusher: 'local' });
  t.true(Number.isInteger(ev[0].ts) && ev[0].ts >= before - 5000 && ev[0].ts <= Date.now() + 5000, 'ts is ms since epoch');


  // a second push records the next move, old = the previous head
  fs.writeFileSync(path.join(work, 'extra.md'), 'pushed again\n');
  await git(['commit', '--quiet', '-am', 'again'], { cwd: work, env: { GIT_AUTHOR_NAME: 'dev', GIT_AUTHOR_EMAIL: 'dev@example.org' } });
  const head2 = (await git(['rev-parse', 'HEAD'], { cwd: work })).stdout.toString().trim();
  await git(['push', '--quiet', 'origin', 'HEAD:proposed'], { cwd: work });
  const ev2 = events();
  t.is(ev2.length, 2);
  t.like(ev2[1], { ref: 'refs/heads/proposed', old: head, new: head2, pusher: 'local' });
});

test('update-ref with HYPERHIVE_PUSHER=alice records "alice"; casRef records its pusher', async (t) => {
  const { repo, roots, events } = await make();
  const c = await commitFiles(repo, { branch: 'proposed', files: { 'a.txt': 'a' }, message: 'a', author: identityFor('bob'), expectedOld: roots.config, pusher: 'bob' });
  await git(['update-ref', 'refs/heads/applied', c, roots.config], { repo, env: { HYPERHIVE_PUSHER: 'alice' } });
  await casRef(repo, 'live', roots.live, roots.live);
  const ev = events();
  t.is(ev.length, 3);
  t.like(ev[0], { ref: 'refs/heads/proposed', old: roots.config, new: c, pusher: 'bob' });
  t.like(ev[1], { agent: 'hooky', ref: 'refs/heads/applied', old: roots.config, new: c, pusher: 'alice' });
  t.like(ev[2], { ref: 'refs/heads/live', pusher: 'system' });
});

test('the hook sanitizes the pusher, ignores non-branch refs and a failed CAS', async (t) => {
  const { repo, roots, events } = await make();
  await git(['update-ref', 'refs/heads/x', roots.config, ''], { repo, env: { HYPERHIVE_PUSHER: 'ev"il\\},"pusher":"root$(id)\n' } });
  await git(['update-ref', 'refs/tags/t', roots.config], { repo, env: { HYPERHIVE_PUSHER: 'alice' } });
  await t.throwsAsync(casRef(repo, 'proposed', roots.live, roots.live, { pusher: 'mallory' }));
  await git(['update-ref', 'refs/heads/q', roots.config], { repo, env: { HYPERHIVE_PUSHER: '"$`' } });
  const ev = events();
  t.is(ev.length, 2);
  t.is(ev[0].ref, 'refs/heads/x');
  t.regex(ev[0].pusher, /^[A-Za-z0-9._:@-]+$/);
  t.is(ev[0].pusher, 'evilpusher:rootid');
  t.is(ev[0].old, '0'.repeat(40), 'a created branch has a zero old sha');
  t.is(ev[1].pusher, 'local', 'a pusher with nothing left after sanitizing falls back to local');
});

test('the hook never blocks a ref change, even when it cannot write its events file', async (t) => {
  const { repo, roots } = await make();
  await installHooks(repo, { agent: 'hooky', eventsFile: '/proc/hyperhive-nope/refs.jsonl', projectRoot: ROOT });
  const c = await commitFiles(repo, { branch: 'proposed', files: { 'a.txt': 'a' }, message: 'a', author: identityFor('bob'), expectedOld: roots.config });
  t.is(await readRef(repo, 'proposed'), c);
  // and a deletion (several hook invocations) goes through too
  await git(['update-ref', '-d', 'refs/heads/proposed'], { repo });
  t.is(await readRef(repo, 'proposed'), null);
});
