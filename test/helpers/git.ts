import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tmpDir } from './paths.ts';

// The real git CLI for tests: sync (gitc, pushByPath, refOf) where a test reads or pushes by path,
// async (gitCli, mustGit) with no user or system config where pushes go over HTTP.

const IDENTITY = { GIT_AUTHOR_NAME: 'tester', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 'tester', GIT_COMMITTER_EMAIL: 't@example.com' };
const GIT_ENV = { ...process.env, ...IDENTITY, GIT_CONFIG_NOSYSTEM: '1' };

/** git in `cwd` (a work tree or a bare repo), output trimmed; throws on a non-zero exit. */
export const gitc = (cwd: string, ...args: string[]): string => execFileSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'pipe'] }).trim();

/** An agent's bare repo in a state dir. */
export const repoOf = (state: string, agent: string): string => path.join(state, 'repos', `${agent}.git`);

/**
 * Commits `files` (null deletes) on top of `branch` of the bare repo and pushes it back by path,
 * the way an operator on the controller host would. Returns the new commit.
 */
export function pushByPath(repo: string, files: Record<string, string | Buffer | null>, opts: { branch?: string; message?: string; force?: boolean; orphan?: boolean } = {}): string {
  const branch = opts.branch ?? 'proposed';
  const dir = tmpDir('hh-clone-');
  try {
    gitc(dir, 'clone', '-q', '-b', branch, repo, '.');
    if (opts.orphan) { gitc(dir, 'checkout', '-q', '--orphan', 'tmp'); gitc(dir, 'rm', '-rq', '--cached', '.'); }
    for (const [f, content] of Object.entries(files)) {
      const p = path.join(dir, f);
      if (content === null) fs.rmSync(p, { force: true });
      else { fs.mkdirSync(path.dirname(p), { recursive: true }); fs.writeFileSync(p, content); }
    }
    gitc(dir, 'add', '-A');
    gitc(dir, 'commit', '-q', '--allow-empty', '-m', opts.message ?? 'test change');
    gitc(dir, 'push', '-q', ...(opts.force ? ['-f'] : []), 'origin', `HEAD:${branch}`);
    return gitc(dir, 'rev-parse', 'HEAD');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The branch's commit, or null when it does not exist. */
export const refOf = (repo: string, branch: string): string | null => {
  try { return execFileSync('git', ['--git-dir', repo, 'rev-parse', '--verify', '-q', `refs/heads/${branch}`], { encoding: 'utf8' }).trim(); } catch { return null; }
};

/** 50 new files of 100 lines each: a 5,000-line, 50-file change. */
export function largeChange(tag = 'big'): Record<string, string> {
  const files: Record<string, string> = {};
  for (let i = 0; i < 50; i++) {
    files[`${tag}/file-${String(i).padStart(2, '0')}.txt`] = Array.from({ length: 100 }, (_, j) => `${tag} file ${i} line ${j}`).join('\n') + '\n';
  }
  return files;
}

export interface Run { code: number; stdout: string; stderr: string }

const HOME = fs.mkdtempSync(path.join(os.tmpdir(), 'hh-git-home-'));

/** The real git CLI with no user or system config, never prompting; never throws for a non-zero exit. */
export function gitCli(args: string[], opts: { cwd?: string; env?: Record<string, string>; input?: string; identity?: boolean; home?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, {
      cwd: opts.cwd ?? os.tmpdir(),
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: opts.home ?? HOME, LC_ALL: 'C',
        GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: '/bin/false',
        ...(opts.identity === false ? {} : IDENTITY),
        ...opts.env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    child.on('error', reject);
    child.stdin.on('error', () => {});
    child.on('close', (code) => resolve({ code: code ?? 128, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

/** gitCli that must succeed: its stdout, or a thrown error with its stderr. */
export async function mustGit(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<string> {
  const r = await gitCli(args, opts);
  if (r.code !== 0) throw new Error(`git ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/** `git fsck --strict` of a bare repo: null when clean, else what it said. Dangling objects (superseded pushes) are fine. */
export async function fsckProblems(repo: string): Promise<string | null> {
  const r = await gitCli(['--git-dir', repo, 'fsck', '--full', '--no-progress', '--no-dangling', '--strict']);
  const bad = (r.stdout + r.stderr).split('\n').filter((l) => /error|missing|broken|corrupt|bad |invalid/i.test(l));
  return r.code === 0 && bad.length === 0 ? null : `fsck exit ${r.code}: ${(r.stdout + r.stderr).trim().slice(0, 2000)}`;
}

/** Every ref of a repo and its commit. */
export async function refs(repo: string): Promise<Record<string, string>> {
  const out = await mustGit(['--git-dir', repo, 'for-each-ref', '--format=%(refname) %(objectname)']);
  return Object.fromEntries(out.trim().split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string]));
}

/** Writes one file in a work tree and commits it; returns the commit. */
export async function commitFile(dir: string, file: string, content: string | Buffer, message = `edit ${file}`): Promise<string> {
  fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
  fs.writeFileSync(path.join(dir, file), content);
  await mustGit(['add', '--', file], { cwd: dir });
  await mustGit(['commit', '-q', '-m', message], { cwd: dir });
  return (await mustGit(['rev-parse', 'HEAD'], { cwd: dir })).trim();
}

export interface RefEvent { agent: string; ref: string; old: string; new: string; pusher: string; ts: number }

/** What the reference-transaction hooks recorded in an events file (`<state>/events/refs.jsonl`), in order; a torn last line (a killed hook) is skipped. */
export function refEvents(file: string): RefEvent[] {
  let text = '';
  try { text = fs.readFileSync(file, 'utf8'); } catch { return []; }
  const events: RefEvent[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try { events.push(JSON.parse(line) as RefEvent); } catch { /* torn */ }
  }
  return events;
}
