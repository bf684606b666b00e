import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRepo } from '../../repos/store.ts';
import { ensureHookBundle, hookBundlePath } from '../../repos/hook-bundle.ts';
import { readRef } from '../../repos/refs.ts';
import { git } from '../../repos/git.ts';
import { identityFor } from '../../repos/identity.ts';

// The pre-receive hook on pushes by path: its sh fast path (two git processes, no node) must accept
// exactly what the full rules accept and hand everything else to them.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dirs: string[] = [];
test.after.always(() => { for (const d of dirs) fs.rmSync(d, { recursive: true, force: true }); });
const DEV = { GIT_AUTHOR_NAME: 'dev', GIT_AUTHOR_EMAIL: 'dev@example.org', GIT_COMMITTER_NAME: 'dev', GIT_COMMITTER_EMAIL: 'dev@example.org' };
const LIMIT = 1000;

async function make() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hh-pre-receive-'));
  dirs.push(dir);
  const repo = path.join(dir, 'repos', 'pr.git');
  await createRepo(repo, { agent: 'pr', templatesDir: path.join(ROOT, 'templates'), eventsFile: path.join(dir, 'events', 'refs.jsonl'), author: identityFor('operator'), projectRoot: ROOT, maxFileBytes: LIMIT });
  const work = path.join(dir, 'work');
  await git(['clone', '--quiet', '--branch', 'proposed', repo, work]);
  const commit = async (files: Record<string, string | Buffer | null>, msg = 'change') => {
    for (const [p, c] of Object.entries(files)) {
      const abs = path.join(work, p);
      if (c === null) fs.rmSync(abs);
      else { fs.mkdirSync(path.dirname(abs), { recursive: true }); fs.writeFileSync(abs, c); }
    }
    await git(['add', '-A'], { cwd: work });
    await git(['commit', '--quiet', '-m', msg], { cwd: work, env: DEV });
    return (await git(['rev-parse', 'HEAD'], { cwd: work })).stdout.toString().trim();
  };
  const push = async (env: Record<string, string> = {}) => {
    const r = await git(['push', 'origin', 'HEAD:proposed'], { cwd: work, env, allowFail: true });
    return { ok: r.code === 0, stderr: r.stderr };
  };
  const reset = async () => { await git(['fetch', '--quiet', 'origin'], { cwd: work }); await git(['reset', '--quiet', '--hard', 'origin/proposed'], { cwd: work }); };
  return { repo, work, commit, push, reset };
}

test('an ordinary change is accepted; files at the limit pass, one byte over is refused naming the limit', async (t) => {
  const r = await make();
  const ok = await r.commit({ 'notes/plan.txt': 'a plan\n', 'sub/agent.nix': 'not the agent config, just a file\n', 'at-limit.bin': Buffer.alloc(LIMIT, 7) });
  const p = await r.push();
  t.true(p.ok, p.stderr);
  t.is(await readRef(r.repo, 'proposed'), ok);

  await r.commit({ 'over.bin': Buffer.alloc(LIMIT + 1, 7) });
  const refused = await r.push();
  t.false(refused.ok);
  t.regex(refused.stderr, /over\.bin/);
  t.regex(refused.stderr, /1,?000|limit/i);
  t.is(await readRef(r.repo, 'proposed'), ok, 'proposed did not move');
});

test('a big file added and removed again inside the pushed commits is still refused', async (t) => {
  const r = await make();
  const base = await readRef(r.repo, 'proposed');
  await r.commit({ 'huge.bin': Buffer.alloc(LIMIT * 3, 1) }, 'add');
  await r.commit({ 'huge.bin': null }, 'remove');
  const p = await r.push();
  t.false(p.ok);
  t.regex(p.stderr, /huge\.bin/);
  t.is(await readRef(r.repo, 'proposed'), base);
});

test('files with rules of their own leave the fast path: a bad agent.nix and notes.md on proposed are refused', async (t) => {
  const r = await make();
  const base = await readRef(r.repo, 'proposed');
  await r.commit({ 'agent.nix': '{ this is not nix' });
  const bad = await r.push();
  t.false(bad.ok);
  t.regex(bad.stderr, /agent\.nix/);
  await r.reset();
  await r.commit({ 'notes.md': 'notes belong on live\n' });
  const notes = await r.push();
  t.false(notes.ok);
  t.regex(notes.stderr, /live/);
  t.is(await readRef(r.repo, 'proposed'), base);
});

test('HYPERHIVE_MAX_FILE_BYTES in the environment sets the limit; a value that is not a number falls back to the installed one', async (t) => {
  const r = await make();
  await r.commit({ 'mid.bin': Buffer.alloc(600, 3) });
  const lower = await r.push({ HYPERHIVE_MAX_FILE_BYTES: '500' });
  t.false(lower.ok);
  t.regex(lower.stderr, /mid\.bin/);
  const junk = await r.push({ HYPERHIVE_MAX_FILE_BYTES: '5e3; rm -rf /' });
  t.true(junk.ok, junk.stderr);
});

test('with the controller\'s hook bundle in place, the full rules run once, through the bundle: one verdict, printed once', async (t) => {
  t.timeout(120_000);
  const r = await make();
  // Where the hook looks for it: <state>/lib/receive-hook.mjs beside <state>/events/.
  await ensureHookBundle(hookBundlePath(path.dirname(path.dirname(r.repo))));
  const base = await readRef(r.repo, 'proposed');
  await r.commit({ 'agent.nix': '{ this is not nix' });
  const bad = await r.push();
  t.false(bad.ok);
  const refusals = bad.stderr.split('\n').filter((l) => /hyperhive: refused proposed:/.test(l));
  t.is(refusals.length, 1, bad.stderr);
  t.is(bad.stderr.split('\n').filter((l) => /push refused, nothing was changed/.test(l)).length, 1, bad.stderr);
  t.is(await readRef(r.repo, 'proposed'), base);
  // An accepted push on the full path (hyperhive.json touched) is accepted by the bundle alone.
  await r.reset();
  const json = JSON.parse(fs.readFileSync(path.join(r.work, 'hyperhive.json'), 'utf8'));
  const head = await r.commit({ 'hyperhive.json': `${JSON.stringify(json, null, 2)}\n\n` });
  const ok = await r.push();
  t.true(ok.ok, ok.stderr);
  t.is(await readRef(r.repo, 'proposed'), head);
});

test('symlinks and gitlinks leave the fast path and are refused naming the path: a file made a link, a link in a subdir, a rename to a link, a gitlink', async (t) => {
  t.timeout(120_000);
  const r = await make();
  const base = await readRef(r.repo, 'proposed');
  const refusedWith = async (re: RegExp) => {
    const p = await r.push();
    t.false(p.ok, 'push should be refused');
    t.regex(p.stderr, re);
    t.is(await readRef(r.repo, 'proposed'), base, 'proposed did not move');
    await r.reset();
  };
  const commitLink = async (target: string, at: string, remove: string[] = []) => {
    for (const f of remove) fs.rmSync(path.join(r.work, f));
    fs.mkdirSync(path.dirname(path.join(r.work, at)), { recursive: true });
    fs.rmSync(path.join(r.work, at), { force: true });
    fs.symlinkSync(target, path.join(r.work, at));
    await git(['add', '-A'], { cwd: r.work });
    await git(['commit', '--quiet', '-m', `link ${at}`], { cwd: r.work, env: DEV });
  };

  await commitLink('/etc/shadow', 'prompt.md');
  await refusedWith(/refused proposed: prompt\.md is a symbolic link \(mode 120000\)/);
  await commitLink('../../agent.nix', 'docs/deep/link.nix');
  await refusedWith(/refused proposed: docs\/deep\/link\.nix is a symbolic link/);
  await commitLink('/etc/passwd', 'role.md', ['prompt.md']);
  await refusedWith(/refused proposed: role\.md is a symbolic link/);

  const commitSha = (await git(['rev-parse', 'HEAD'], { cwd: r.work })).stdout.toString().trim();
  await git(['update-index', '--add', '--cacheinfo', `160000,${commitSha},vendor/lib`], { cwd: r.work });
  await git(['commit', '--quiet', '-m', 'gitlink'], { cwd: r.work, env: DEV });
  await refusedWith(/refused proposed: vendor\/lib is a gitlink \(mode 160000, a submodule\)/);

  // The fast path still takes an ordinary change after all that.
  const ok = await r.commit({ 'docs/plain.md': 'plain\n' });
  const p = await r.push();
  t.true(p.ok, p.stderr);
  t.is(await readRef(r.repo, 'proposed'), ok);
});

test('a symlink on live is refused too', async (t) => {
  t.timeout(60_000);
  const r = await make();
  await git(['fetch', '--quiet', 'origin', 'live'], { cwd: r.work });
  await git(['checkout', '--quiet', '-b', 'live', 'FETCH_HEAD'], { cwd: r.work });
  const before = await readRef(r.repo, 'live');
  fs.rmSync(path.join(r.work, 'notes.md'));
  fs.symlinkSync('/etc/shadow', path.join(r.work, 'notes.md'));
  await git(['commit', '--quiet', '-am', 'notes as a link'], { cwd: r.work, env: DEV });
  const p = await git(['push', 'origin', 'HEAD:live'], { cwd: r.work, allowFail: true });
  t.not(p.code, 0);
  t.regex(p.stderr, /refused live: notes\.md is a symbolic link/);
  t.is(await readRef(r.repo, 'live'), before);
});

test('agent.nix and hyperhive.json over the config-file limit are refused by their size before anything evaluates them', async (t) => {
  t.timeout(60_000);
  const r = await make();
  const base = await readRef(r.repo, 'proposed');
  const roomy = { HYPERHIVE_MAX_FILE_BYTES: String(50 * 1024 * 1024) };
  // Valid JSON, just big: the default limit is 1 MB.
  const big = JSON.stringify({ tools: { allow: ['Read'] }, env: { BIG: 'x'.repeat(1024 * 1024) } });
  await r.commit({ 'hyperhive.json': big });
  const p = await r.push(roomy);
  t.false(p.ok);
  t.regex(p.stderr, new RegExp(`refused proposed: hyperhive\\.json is ${Buffer.byteLength(big)} bytes, over the 1048576-byte limit for config files \\(agent\\.nix, hyperhive\\.json; HYPERHIVE_MAX_CONFIG_FILE_BYTES\\)`));
  t.is(await readRef(r.repo, 'proposed'), base);
  await r.reset();
  await r.commit({ 'agent.nix': `{ ... }: { }\n#${'x'.repeat(3000)}\n` });
  const lower = await r.push({ ...roomy, HYPERHIVE_MAX_CONFIG_FILE_BYTES: '2048' });
  t.false(lower.ok);
  t.regex(lower.stderr, /refused proposed: agent\.nix is 30\d\d bytes, over the 2048-byte limit for config files/);
  t.is(await readRef(r.repo, 'proposed'), base);
  // Within the limit the same file is accepted.
  const ok = await r.push({ ...roomy, HYPERHIVE_MAX_CONFIG_FILE_BYTES: '8192' });
  t.true(ok.ok, ok.stderr);
});
