// Native git (the `git` binary through child_process) was chosen over isomorphic-git because it is
// the same implementation that serves pushes (receive-pack, pre-receive, reference-transaction
// hooks), it gives compare-and-swap ref updates under git's own lock (isomorphic-git's writeRef is a
// plain overwrite and runs no hooks), rename detection and line counts in diffs, and it diffs
// large and binary files out of process instead of in the JS heap.
// The price is a process spawn per call: `npm run bench` (test/bench/git-ops.ts) compares both on the
// same repo, and on a loaded machine isomorphic-git is several times faster per operation, so keep
// the number of git calls per operation small (batch with --stdin, --stdin-paths, --index-info).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HyperhiveError } from '../controller/errors.ts';
import { CONTROLLER_COMMITTER } from './identity.ts';
import { GitRunner } from './git-runner.ts';

export interface GitOptions {
  repo?: string;
  cwd?: string;
  env?: Record<string, string>;
  input?: string | Buffer;
  allowFail?: boolean;
}

export interface GitResult { stdout: Buffer; stderr: string; code: number }

// Files in a repo may be up to 50 MB; a patch or a batch read may carry several of them.
const MAX_OUTPUT = 512 * 1024 * 1024;

let emptyHome: string | null = null;
/** An empty HOME so no user config (~/.gitconfig, XDG) ever changes how git behaves here. */
function homeDir(): string {
  if (emptyHome && fs.existsSync(emptyHome)) return emptyHome;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hyperhive-git-home-'));
  emptyHome = dir;
  process.once('exit', () => { try { fs.rmSync(dir, { recursive: true, force: true }); } catch { /* best effort */ } });
  return dir;
}

/** Built from nothing (not from process.env) so GIT_DIR, GIT_INDEX_FILE etc. of a calling hook never leak in. */
export function gitEnv(extra: Record<string, string> = {}, repo?: string): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: homeDir(),
    XDG_CONFIG_HOME: path.join(homeDir(), '.config'),
    LC_ALL: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_LITERAL_PATHSPECS: '1',
    GIT_COMMITTER_NAME: CONTROLLER_COMMITTER.name,
    GIT_COMMITTER_EMAIL: CONTROLLER_COMMITTER.email,
  };
  if (process.env.TMPDIR) env.TMPDIR = process.env.TMPDIR;
  if (repo) env.GIT_DIR = repo;
  return { ...env, ...extra };
}

let runner: GitRunner | null = null;
let exitHook = false;

/**
 * Long-running processes (the controller) start git through a few small shell workers instead of
 * forking themselves (repos/git-runner.ts); short-lived ones (hooks, the CLI) spawn git directly.
 */
export function useGitRunner(on: boolean): void {
  if (on && !runner) {
    runner = new GitRunner(gitEnv());
    if (!exitHook) { exitHook = true; process.once('exit', () => runner?.close()); }
  } else if (!on && runner) {
    runner.close();
    runner = null;
  }
}

export function git(args: string[], opts: GitOptions = {}): Promise<GitResult> {
  const viaRunner = runner?.run({ args, cwd: opts.cwd ?? opts.repo ?? process.cwd(), env: { ...(opts.repo ? { GIT_DIR: opts.repo } : {}), ...opts.env }, input: opts.input, maxOutput: MAX_OUTPUT });
  if (viaRunner) {
    return viaRunner.then((r) => {
      // The workers' output goes through files in /dev/shm, which can be small (64 MB in a default
      // container): a big diff that does not fit there is run again the old way.
      if (r.code !== 0 && /No space left on device/i.test(r.stderr)) return spawnGit(args, opts);
      if (r.tooBig) throw new HyperhiveError('too_large', `git ${args.join(' ')}: output larger than ${MAX_OUTPUT} bytes`, { args });
      if (r.code !== 0 && !opts.allowFail) {
        const why = r.stderr.trim() || `exit code ${r.code}`;
        throw new HyperhiveError('git_failed', `git ${args.join(' ')}: ${why}`, { args, code: r.code, stderr: r.stderr });
      }
      return { stdout: r.stdout, stderr: r.stderr, code: r.code };
    }, () => spawnGit(args, opts)); // a worker that died (or files that could not be written): spawn directly
  }
  return spawnGit(args, opts);
}

function spawnGit(args: string[], opts: GitOptions): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, {
      cwd: opts.cwd ?? opts.repo ?? process.cwd(),
      env: gitEnv(opts.env, opts.repo),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let tooBig = false;
    child.stdout.on('data', (c: Buffer) => {
      outLen += c.length;
      if (outLen > MAX_OUTPUT) { tooBig = true; child.kill('SIGKILL'); return; }
      out.push(c);
    });
    child.stderr.on('data', (c: Buffer) => { err.push(c); });
    child.on('error', (e) => reject(new HyperhiveError('git_failed', `git ${args.join(' ')}: ${e.message}`, { args })));
    // A git that exits before reading all of its stdin is an ordinary failure, reported by its exit code.
    child.stdin.on('error', () => {});
    child.on('close', (code, signal) => {
      const stderr = Buffer.concat(err).toString('utf8');
      const stdout = Buffer.concat(out);
      if (tooBig) {
        reject(new HyperhiveError('too_large', `git ${args.join(' ')}: output larger than ${MAX_OUTPUT} bytes`, { args }));
        return;
      }
      const rc = code ?? 128;
      if (rc !== 0 && !opts.allowFail) {
        const why = stderr.trim() || (signal ? `killed by ${signal}` : `exit code ${rc}`);
        reject(new HyperhiveError('git_failed', `git ${args.join(' ')}: ${why}`, { args, code: rc, stderr }));
        return;
      }
      resolve({ stdout, stderr, code: rc });
    });
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

const ZERO = '0'.repeat(40);
export const ZERO_SHA = ZERO;

/** Full object ids only: a rev that git would interpret (a branch name, `HEAD~1`, `--option`) is refused here. */
export function isFullSha(s: unknown): s is string {
  return typeof s === 'string' && /^[0-9a-f]{40}$/.test(s);
}

/** A revision argument git must never take for an option. */
export function checkRev(rev: string, what = 'revision'): void {
  if (typeof rev !== 'string' || rev === '' || rev.startsWith('-') || /[\0\n]/.test(rev)) {
    throw new HyperhiveError('bad_request', `invalid ${what}: ${JSON.stringify(rev)}`);
  }
}
