import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRepo, installHooks } from '../../repos/store.ts';
import { readRefs, readRef, isAncestor } from '../../repos/refs.ts';
import { listTree, readFileAt, commitInfo } from '../../repos/read.ts';
import { git } from '../../repos/git.ts';
import { identityFor } from '../../repos/identity.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TEMPLATES = path.join(ROOT, 'templates');

const dirs: string[] = [];
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'hh-repos-store-'));
  dirs.push(d);
  return d;
}
test.after.always(() => { for (const d of dirs) fs.rmSync(d, { recursive: true, force: true }); });

async function make(dir: string, agent = 'alpha') {
  const repo = path.join(dir, 'repos', `${agent}.git`);
  const roots = await createRepo(repo, { agent, templatesDir: TEMPLATES, eventsFile: path.join(dir, 'events', 'refs.jsonl'), author: identityFor('operator'), projectRoot: ROOT });
  return { repo, roots };
}

test('createRepo: proposed and applied at one config root, live a separate root, HEAD on proposed', async (t) => {
  const dir = tmp();
  const { repo, roots } = await make(dir);
  const refs = await readRefs(repo);
  t.is(refs.proposed, roots.config);
  t.is(refs.applied, roots.config);
  t.is(refs.live, roots.live);
  t.not(roots.config, roots.live);
  const cfg = await commitInfo(repo, roots.config);
  const live = await commitInfo(repo, roots.live);
  t.deepEqual(cfg.parents, []);
  t.deepEqual(live.parents, []);
  t.false(await isAncestor(repo, roots.config, roots.live));
  t.false(await isAncestor(repo, roots.live, roots.config));
  t.is(cfg.author.name, 'operator');
  t.is(cfg.author.email, 'operator@hyperhive.local');
  const committer = (await git(['log', '-1', '--format=%cn <%ce>', roots.config], { repo })).stdout.toString().trim();
  t.is(committer, 'hyperhive <controller@hyperhive.local>');
  t.is((await git(['symbolic-ref', 'HEAD'], { repo })).stdout.toString().trim(), 'refs/heads/proposed');
  t.is((await git(['rev-parse', '--is-bare-repository'], { repo })).stdout.toString().trim(), 'true');
});

test('createRepo: config has every file of templates/agent, live has notes.md and model', async (t) => {
  const dir = tmp();
  const { repo, roots } = await make(dir);
  const cfgPaths = (await listTree(repo, roots.config)).map((e) => e.path).sort();
  t.deepEqual(cfgPaths, fs.readdirSync(path.join(TEMPLATES, 'agent')).sort());
  t.true(cfgPaths.includes('agent.nix') && cfgPaths.includes('hyperhive.json') && cfgPaths.includes('prompt.md'));
  t.false(cfgPaths.includes('notes.md') || cfgPaths.includes('model'));
  t.deepEqual((await listTree(repo, roots.live)).map((e) => e.path).sort(), ['model', 'notes.md']);
  t.is((await readFileAt(repo, 'live', 'model'))!.toString(), 'sonnet\n');
  t.deepEqual(JSON.parse((await readFileAt(repo, 'proposed', 'hyperhive.json'))!.toString()), {
    tools: { allow: ['Read', 'Edit', 'Write', 'Bash(git *)', 'mcp__hyperhive__*'], deny: [] }, mcpServers: {}, env: {},
  });
});

test('createRepo: hooks installed, executable, placeholders filled', async (t) => {
  const dir = tmp();
  const { repo } = await make(dir, 'beta');
  const hooks = fs.readdirSync(path.join(ROOT, 'repos', 'hooks')).filter((f) => !f.startsWith('.'));
  t.true(hooks.includes('reference-transaction'));
  for (const h of hooks) {
    const p = path.join(repo, 'hooks', h);
    const st = fs.statSync(p);
    t.is(st.mode & 0o777, 0o755, `${h} mode`);
    const text = fs.readFileSync(p, 'utf8');
    t.false(text.includes('@@'), `${h} has no placeholder left`);
  }
  const rt = fs.readFileSync(path.join(repo, 'hooks', 'reference-transaction'), 'utf8');
  t.true(rt.includes("'beta'"));
  t.true(rt.includes(path.join(dir, 'events', 'refs.jsonl')));
});

test('createRepo: refuses an existing repo and leaves it untouched, no temp dirs left', async (t) => {
  const dir = tmp();
  const { repo, roots } = await make(dir);
  const err = await t.throwsAsync(make(dir));
  t.is((err as any).code, 'agent_exists');
  t.is(await readRef(repo, 'proposed'), roots.config);
  fs.mkdirSync(path.join(dir, 'repos', 'plain.git'));
  const err2 = await t.throwsAsync(make(dir, 'plain'));
  t.is((err2 as any).code, 'agent_exists');
  t.deepEqual(fs.readdirSync(path.join(dir, 'repos')).sort(), ['alpha.git', 'plain.git']);
});

test('installHooks: idempotent, and refuses values that could break out of the script', async (t) => {
  const dir = tmp();
  const { repo } = await make(dir);
  const opts = { agent: 'alpha', eventsFile: path.join(dir, 'events', 'refs.jsonl'), projectRoot: ROOT };
  await installHooks(repo, opts);
  await installHooks(repo, opts);
  const names = fs.readdirSync(path.join(repo, 'hooks'));
  t.false(names.some((n) => n.includes('.tmp-')));
  const err = await t.throwsAsync(installHooks(repo, { ...opts, eventsFile: "/tmp/x'; rm -rf /" }));
  t.is((err as any).code, 'bad_request');
});
