import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { HyperhiveError } from '../controller/errors.ts';
import { git } from './git.ts';
import type { GitIdentity } from './identity.ts';
import { checkIdentity } from './commit.ts';
import { DEFAULT_MAX_FILE_BYTES } from './receive.ts';

export interface CreateRepoOptions { agent: string; templatesDir: string; eventsFile: string; author: GitIdentity; projectRoot: string; maxFileBytes?: number }

const HOOKS_DIR = fileURLToPath(new URL('./hooks/', import.meta.url));

async function exists(p: string): Promise<boolean> {
  try { await fs.lstat(p); return true; } catch { return false; }
}

/** Every regular file under `dir`, as repo-relative paths with their git mode; a symbolic link is refused. */
async function walk(dir: string, prefix = ''): Promise<{ rel: string; abs: string; mode: string }[]> {
  const out: { rel: string; abs: string; mode: string }[] = [];
  const entries = await fs.readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const abs = path.join(dir, e.name);
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...await walk(abs, rel));
    // A link would become a link in every new agent's repo, which the receive rules and the
    // checkout refuse: say so when the repo is made, not when the agent first starts.
    else if (e.isSymbolicLink()) throw new HyperhiveError('bad_request', `template ${abs} is a symbolic link: templates hold regular files only`, { path: rel });
    else if (e.isFile()) {
      const st = await fs.stat(abs);
      out.push({ rel, abs, mode: st.mode & 0o111 ? '100755' : '100644' });
    }
  }
  return out;
}

/** A root commit holding exactly the files of `dir`, written with a throwaway index (no work tree). */
async function rootCommitOf(repo: string, dir: string, message: string, author: GitIdentity): Promise<string> {
  const files = await walk(dir);
  if (files.length === 0) throw new HyperhiveError('internal', `template directory ${dir} has no files`);
  const tmp = await fs.mkdtemp(path.join(repo, 'tmp-index-'));
  const env = { GIT_INDEX_FILE: path.join(tmp, 'index') };
  try {
    const r = await git(['hash-object', '-w', '--no-filters', '--stdin-paths'], { repo, input: files.map((f) => f.abs).join('\n') + '\n' });
    const shas = r.stdout.toString('utf8').split('\n').filter(Boolean);
    if (shas.length !== files.length) throw new HyperhiveError('git_failed', `hash-object returned ${shas.length} ids for ${files.length} files`);
    const lines = files.map((f, i) => `${f.mode} blob ${shas[i]}\t${f.rel}\0`);
    await git(['update-index', '-z', '--index-info'], { repo, env, input: lines.join('') });
    const tree = (await git(['write-tree'], { repo, env })).stdout.toString('utf8').trim();
    const c = await git(['commit-tree', tree, '-F', '-'], {
      repo, input: message,
      env: { GIT_AUTHOR_NAME: author.name, GIT_AUTHOR_EMAIL: author.email },
    });
    return c.stdout.toString('utf8').trim();
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

/**
 * Creates the agent's bare repo: `proposed` = `applied` = the config template, `live` its own root.
 * Everything is built in a sibling temp dir and renamed into place, so a crash leaves either no
 * repo or a whole one (plus a `.tmp-` dir to sweep).
 */
export async function createRepo(repo: string, opts: CreateRepoOptions): Promise<{ config: string; live: string }> {
  checkIdentity(opts.author);
  if (await exists(repo)) throw new HyperhiveError('agent_exists', `repo already exists: ${repo}`, { agent: opts.agent });
  const parent = path.dirname(repo);
  await fs.mkdir(parent, { recursive: true });
  const tmp = path.join(parent, `.${path.basename(repo)}.tmp-${randomBytes(6).toString('hex')}`);
  try {
    await git(['init', '--quiet', '--bare', '--template=', '--initial-branch=proposed', tmp]);
    // A reflog in a bare repo is what tells, after the fact, how a branch got where it is.
    await git(['config', 'core.logAllRefUpdates', 'always'], { repo: tmp });
    const config = await rootCommitOf(tmp, path.join(opts.templatesDir, 'agent'), `Create agent ${opts.agent}: initial config`, opts.author);
    const live = await rootCommitOf(tmp, path.join(opts.templatesDir, 'live'), `Create agent ${opts.agent}: initial notes and model`, opts.author);
    const tx = [
      `create refs/heads/proposed ${config}`,
      `create refs/heads/applied ${config}`,
      `create refs/heads/live ${live}`,
      '',
    ].join('\n');
    await git(['update-ref', '-m', `hyperhive: create ${opts.agent}`, '--stdin'], { repo: tmp, input: tx });
    // Hooks last: the creation itself is not an event anybody needs to replay.
    await installHooks(tmp, opts);
    if (await exists(repo)) throw new HyperhiveError('agent_exists', `repo already exists: ${repo}`, { agent: opts.agent });
    try {
      await fs.rename(tmp, repo);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' || code === 'ENOTEMPTY') throw new HyperhiveError('agent_exists', `repo already exists: ${repo}`, { agent: opts.agent });
      throw e;
    }
    return { config, live };
  } catch (e) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

// Placeholders land inside shell and JSON strings of the hooks; these characters could break out of them.
const UNSAFE = /['"\\`$\n\r\0]/;

/** Copies every hook of repos/hooks/ into the repo with its placeholders filled in. Safe to run again. */
export async function installHooks(repo: string, opts: { agent: string; eventsFile: string; projectRoot: string; maxFileBytes?: number }): Promise<void> {
  const maxFileBytes = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  if (!Number.isSafeInteger(maxFileBytes) || maxFileBytes < 1) throw new HyperhiveError('bad_request', `installHooks: maxFileBytes must be a positive integer, got ${JSON.stringify(opts.maxFileBytes)}`);
  for (const [k, v] of Object.entries({ agent: opts.agent, eventsFile: opts.eventsFile, projectRoot: opts.projectRoot })) {
    if (typeof v !== 'string' || v === '' || UNSAFE.test(v)) {
      throw new HyperhiveError('bad_request', `installHooks: ${k} must be a non-empty string without quotes, backslashes, $, backticks or newlines: ${JSON.stringify(v)}`);
    }
  }
  const dest = path.join(repo, 'hooks');
  await fs.mkdir(dest, { recursive: true });
  for (const e of await fs.readdir(HOOKS_DIR, { withFileTypes: true })) {
    if (!e.isFile() || e.name.startsWith('.')) continue;
    const text = (await fs.readFile(path.join(HOOKS_DIR, e.name), 'utf8'))
      .replaceAll('@@AGENT@@', opts.agent)
      .replaceAll('@@EVENTS_FILE@@', opts.eventsFile)
      .replaceAll('@@PROJECT_ROOT@@', opts.projectRoot)
      .replaceAll('@@MAX_FILE_BYTES@@', String(maxFileBytes));
    // Unchanged (every start reinstalls, with 1,000 agents): leave the file be.
    const cur = await fs.readFile(path.join(dest, e.name), 'utf8').catch(() => null);
    if (cur === text && ((await fs.stat(path.join(dest, e.name)).catch(() => null))?.mode ?? 0) & 0o100) continue;
    // Written aside and renamed so a git running the hook right now never sees half a script.
    const tmp = path.join(dest, `.${e.name}.tmp-${randomBytes(4).toString('hex')}`);
    await fs.writeFile(tmp, text, { mode: 0o755 });
    await fs.chmod(tmp, 0o755);
    await fs.rename(tmp, path.join(dest, e.name));
  }
  await disableAutoGc(repo);
}

/**
 * A push runs `git gc --auto` after its hooks, which the pusher waits for; the controller runs it
 * instead, off the push's path (repos/maintenance.ts). Reads the config file first: a spawn per repo
 * at every start adds up with hundreds of agents.
 */
async function disableAutoGc(repo: string): Promise<void> {
  const text = await fs.readFile(path.join(repo, 'config'), 'utf8').catch(() => '');
  if (/^\s*autogc\s*=\s*false\s*$/m.test(text)) return;
  await git(['config', 'receive.autogc', 'false'], { repo });
}
