import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { HyperhiveError } from '../controller/errors.ts';
import { git, isFullSha } from './git.ts';
import type { GitIdentity } from './identity.ts';
import { linkProblem, linksInLsTree } from './links.ts';
import { casRef, checkBranch, type Branch } from './refs.ts';
import { removeLockIfStale } from '../controller/reconciler/stale-locks.ts';

export interface CommitFilesOptions { branch: Branch; files: Record<string, string | Buffer | null>; message: string; author: GitIdentity; expectedOld: string; pusher?: string }

export function checkIdentity(id: GitIdentity): void {
  const bad = (s: unknown) => typeof s !== 'string' || s.trim() === '' || /[<>\n\r\0]/.test(s);
  if (!id || bad(id.name) || bad(id.email)) {
    throw new HyperhiveError('bad_request', `invalid git identity ${JSON.stringify(id)}: name and email must be non-empty, without <, > or newlines`);
  }
}

/** A repo-relative path git would store as given; anything that could escape the tree or touch .git is refused. */
export function checkRepoPath(p: string): void {
  const fail = (why: string) => { throw new HyperhiveError('bad_request', `invalid path ${JSON.stringify(p)}: ${why}`, { path: p }); };
  if (typeof p !== 'string' || p === '') fail('empty');
  if (p.startsWith('/')) fail('absolute');
  if (/[\0\n\r\\]/.test(p)) fail('contains NUL, newline or backslash');
  for (const seg of p.split('/')) {
    if (seg === '') fail('empty segment');
    if (seg === '.' || seg === '..') fail(`'${seg}' segment`);
    if (seg.toLowerCase() === '.git') fail("'.git' segment");
  }
}

function checkMessage(message: string): void {
  if (typeof message !== 'string' || message.trim() === '') throw new HyperhiveError('bad_request', 'commit message is empty');
}

/** The lock file git names in `err` when it refused to move `branch` because that lock exists (only locks this branch's update takes). */
function lockInTheWay(repo: string, branch: Branch, err: unknown): string | null {
  if (!(err instanceof HyperhiveError) || err.code !== 'git_failed') return null;
  const m = /Unable to create '([^']+\.lock)': File exists/.exec(String(err.data.stderr ?? ''));
  if (!m) return null;
  // Matched by suffix and rebuilt from `repo`: git may print the path through a symlink resolved or not.
  for (const rel of [`refs/heads/${branch}.lock`, 'packed-refs.lock']) {
    if (m[1] === rel || m[1].endsWith(`/${rel}`)) return path.join(repo, rel);
  }
  return null;
}

/**
 * casRef, past a lock left by a git process killed mid-update (the controller SIGKILLed inside one of its
 * own commits): such a lock would fail every later update of the branch. A stale lock is removed once
 * and the update retried; a young one is an update in progress and is left alone.
 */
async function moveBranch(repo: string, branch: Branch, next: string, expectedOld: string, pusher: string | undefined): Promise<void> {
  try {
    await casRef(repo, branch, next, expectedOld, { pusher });
    return;
  } catch (e) {
    const lock = lockInTheWay(repo, branch, e);
    if (!lock) throw e;
    if (removeLockIfStale(lock) === 'young') {
      throw new HyperhiveError('conflict', `cannot move refs/heads/${branch}: ${lock} exists, another update of the branch is in progress; try again`, { branch, lock });
    }
  }
  await casRef(repo, branch, next, expectedOld, { pusher });
}

async function createCommit(repo: string, tree: string, parents: string[], message: string, author: GitIdentity): Promise<string> {
  const args = ['commit-tree', tree];
  for (const p of parents) args.push('-p', p);
  args.push('-F', '-');
  const r = await git(args, {
    repo, input: message.endsWith('\n') ? message : `${message}\n`,
    env: { GIT_AUTHOR_NAME: author.name, GIT_AUTHOR_EMAIL: author.email },
  });
  return r.stdout.toString('utf8').trim();
}

/**
 * Writes `files` on top of `expectedOld` (null deletes) as one new commit and moves `branch` to it
 * by compare-and-swap. Plumbing only, with a throwaway index: no work tree is ever checked out.
 */
export async function commitFiles(repo: string, opts: CommitFilesOptions): Promise<string> {
  checkBranch(opts.branch);
  checkIdentity(opts.author);
  checkMessage(opts.message);
  if (!isFullSha(opts.expectedOld)) throw new HyperhiveError('bad_request', `expectedOld must be a full sha, got ${JSON.stringify(opts.expectedOld)}`);
  const entries = Object.entries(opts.files ?? {});
  if (entries.length === 0) throw new HyperhiveError('bad_request', 'no files to commit');
  for (const [p, content] of entries) {
    checkRepoPath(p);
    if (content !== null && typeof content !== 'string' && !Buffer.isBuffer(content)) {
      throw new HyperhiveError('bad_request', `content of ${JSON.stringify(p)} must be a string, a Buffer or null`);
    }
  }
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'hyperhive-index-'));
  const env = { GIT_INDEX_FILE: path.join(tmp, 'index') };
  try {
    // Every git call is a process spawn, the dominant cost here: the new index is written in one
    // update-index from the old tree's listing, and all blobs are hashed by one hash-object.
    const existing = new Map<string, { mode: string; sha: string }>();
    const ls = await git(['ls-tree', '-r', '-z', '--full-tree', `${opts.expectedOld}^{tree}`], { repo, allowFail: true });
    if (ls.code !== 0) throw new HyperhiveError('not_found', `no such commit: ${opts.expectedOld}`, { commit: opts.expectedOld });
    for (const rec of ls.stdout.toString('utf8').split('\0')) {
      const tab = rec.indexOf('\t');
      if (tab < 0) continue;
      const [mode, , sha] = rec.slice(0, tab).split(' ');
      existing.set(rec.slice(tab + 1), { mode, sha });
    }
    const final = new Set(existing.keys());
    for (const [p, content] of entries) {
      if (content === null) final.delete(p);
      else final.add(p);
    }
    // git's index would happily hold both `a` and `a/b`, and write-tree would make a tree no checkout can hold.
    for (const p of final) {
      for (let i = p.indexOf('/'); i > 0; i = p.indexOf('/', i + 1)) {
        const dir = p.slice(0, i);
        if (final.has(dir)) throw new HyperhiveError('bad_request', `invalid path ${JSON.stringify(p)}: ${JSON.stringify(dir)} is a file (delete it in the same commit to replace it with a directory)`, { path: p });
      }
    }
    const writes = entries.filter((e): e is [string, string | Buffer] => e[1] !== null);
    let shas: string[] = [];
    if (writes.length === 1) {
      shas = [(await git(['hash-object', '-w', '--no-filters', '--stdin'], { repo, input: writes[0][1] })).stdout.toString('utf8').trim()];
    } else if (writes.length > 1) {
      const blobDir = path.join(tmp, 'blobs');
      await fs.mkdir(blobDir);
      const files = await Promise.all(writes.map(async ([, content], i) => {
        const f = path.join(blobDir, String(i));
        await fs.writeFile(f, content);
        return f;
      }));
      const r = await git(['hash-object', '-w', '--no-filters', '--stdin-paths'], { repo, input: files.join('\n') + '\n' });
      shas = r.stdout.toString('utf8').split('\n').filter(Boolean);
      if (shas.length !== writes.length) throw new HyperhiveError('git_failed', `hash-object returned ${shas.length} ids for ${writes.length} files`);
    }
    const written = new Map(writes.map(([p], i) => [p, shas[i]]));
    const lines: string[] = [];
    for (const p of final) {
      const sha = written.get(p);
      const old = existing.get(p);
      // A rewritten file keeps its mode (an executable stays executable).
      if (sha) lines.push(`${old?.mode === '100755' ? '100755' : '100644'} ${sha}\t${p}\0`);
      else if (old) lines.push(`${old.mode} ${old.sha}\t${p}\0`);
    }
    const upd = await git(['update-index', '-z', '--add', '--index-info'], { repo, env, input: lines.join(''), allowFail: true });
    if (upd.code !== 0) throw new HyperhiveError('bad_request', `cannot write files: ${upd.stderr.trim()}`, { stderr: upd.stderr });
    const wt = await git(['write-tree'], { repo, env, allowFail: true });
    if (wt.code !== 0) {
      // write-tree refuses an index where a path is both a file and a directory.
      throw new HyperhiveError('bad_request', `cannot write files: ${wt.stderr.trim()}`, { stderr: wt.stderr });
    }
    const tree = wt.stdout.toString('utf8').trim();
    const sha = await createCommit(repo, tree, [opts.expectedOld], opts.message, opts.author);
    await moveBranch(repo, opts.branch, sha, opts.expectedOld, opts.pusher);
    return sha;
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

/** A commit with a given tree and parents (revert, rollback), then compare-and-swap of `branch`. */
export async function commitTree(repo: string, opts: { branch: Branch; tree: string; parents: string[]; message: string; author: GitIdentity; expectedOld: string; pusher?: string }): Promise<string> {
  checkBranch(opts.branch);
  checkIdentity(opts.author);
  checkMessage(opts.message);
  if (!isFullSha(opts.tree)) throw new HyperhiveError('bad_request', `tree must be a full sha, got ${JSON.stringify(opts.tree)}`);
  if (!isFullSha(opts.expectedOld)) throw new HyperhiveError('bad_request', `expectedOld must be a full sha, got ${JSON.stringify(opts.expectedOld)}`);
  for (const p of opts.parents) if (!isFullSha(p)) throw new HyperhiveError('bad_request', `parent must be a full sha, got ${JSON.stringify(p)}`);
  const t = await git(['cat-file', '-t', opts.tree], { repo, allowFail: true });
  if (t.code !== 0 || t.stdout.toString('utf8').trim() !== 'tree') throw new HyperhiveError('not_found', `no such tree: ${opts.tree}`, { tree: opts.tree });
  // A tree from before the receive rules refused links (a rollback to an old revision) must not bring one back.
  const ls = await git(['ls-tree', '-r', '-z', '--full-tree', opts.tree], { repo });
  const links = linksInLsTree(ls.stdout.toString('utf8'));
  if (links.length) throw new HyperhiveError('unprocessable', `cannot commit tree ${opts.tree.slice(0, 7)}: ${links.map((l) => linkProblem(l.path, l.mode)).join('; ')}`, { tree: opts.tree, links });
  const sha = await createCommit(repo, opts.tree, opts.parents, opts.message, opts.author);
  await moveBranch(repo, opts.branch, sha, opts.expectedOld, opts.pusher);
  return sha;
}
