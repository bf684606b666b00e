// The working clone an agent commits in: `$HYPERHIVE_STATE_DIR/repo`, branches proposed and live
// tracking origin, origin = the controller's /git/<agent>.git, the token read through the
// credential helper at use time.
import fs from 'node:fs';
import path from 'node:path';
import { HyperhiveError } from '../controller/errors.ts';
import { assertAgentName } from '../controller/names.ts';
import { configureCredentialHelper } from './credential-helper.ts';
import { git } from './git.ts';
import { identityFor, type GitIdentity } from './identity.ts';

export type CloneBranch = 'proposed' | 'live';
/** What happened to a local branch: made, moved forward, already there, or kept because it has local work. */
export type BranchState = 'created' | 'updated' | 'current' | 'ahead' | 'diverged' | 'dirty' | 'missing';

export interface CloneResult { dir: string; remote: string; branches: Record<CloneBranch, BranchState> }

export interface SetupCloneOptions {
  dir: string;
  remote: string;
  username: string;
  tokenFile: string;
  /** user.name/email of commits made in the clone; none leaves the user's own. */
  identity?: GitIdentity;
}

export function gitRemoteUrl(url: string, agent: string): string {
  assertAgentName(agent);
  let base: URL;
  try { base = new URL(url); } catch { throw new HyperhiveError('bad_request', `invalid controller URL ${JSON.stringify(url)}`); }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new HyperhiveError('bad_request', `controller URL must be http(s): ${JSON.stringify(url)}`);
  if (base.username || base.password) throw new HyperhiveError('bad_request', 'controller URL must not carry credentials: the token is read from the token file');
  return `${url.replace(/\/+$/, '')}/git/${agent}.git`;
}

const BRANCHES: CloneBranch[] = ['proposed', 'live'];

async function revOf(dir: string, ref: string): Promise<string | null> {
  const r = await git(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], { cwd: dir, allowFail: true });
  return r.code === 0 ? r.stdout.toString('utf8').trim() : null;
}

async function currentBranch(dir: string): Promise<string | null> {
  const r = await git(['symbolic-ref', '--quiet', '--short', 'HEAD'], { cwd: dir, allowFail: true });
  return r.code === 0 ? r.stdout.toString('utf8').trim() : null;
}

async function isAncestor(dir: string, a: string, b: string): Promise<boolean> {
  return (await git(['merge-base', '--is-ancestor', a, b], { cwd: dir, allowFail: true })).code === 0;
}

/** Brings one local branch up to origin's, never dropping local commits or uncommitted work. */
async function syncBranch(dir: string, b: CloneBranch): Promise<BranchState> {
  const remote = await revOf(dir, `refs/remotes/origin/${b}`);
  if (!remote) return 'missing';
  const local = await revOf(dir, `refs/heads/${b}`);
  const checkedOut = (await currentBranch(dir)) === b;
  let state: BranchState;
  if (!local) {
    if (checkedOut) await git(['reset', '-q', '--hard', remote], { cwd: dir });
    else await git(['branch', '-q', b, remote], { cwd: dir });
    state = 'created';
  } else if (local === remote) state = 'current';
  else if (await isAncestor(dir, local, remote)) {
    if (checkedOut) {
      const dirty = (await git(['status', '--porcelain', '--untracked-files=no'], { cwd: dir })).stdout.length > 0;
      if (dirty) state = 'dirty';
      else { await git(['merge', '-q', '--ff-only', remote], { cwd: dir }); state = 'updated'; }
    } else {
      await git(['update-ref', `refs/heads/${b}`, remote, local], { cwd: dir });
      state = 'updated';
    }
  } else state = (await isAncestor(dir, remote, local)) ? 'ahead' : 'diverged';
  await git(['config', `branch.${b}.remote`, 'origin'], { cwd: dir });
  await git(['config', `branch.${b}.merge`, `refs/heads/${b}`], { cwd: dir });
  return state;
}

/** Creates or refreshes a clone with origin, credential helper and both branches; idempotent. */
export async function setupClone(opts: SetupCloneOptions): Promise<CloneResult> {
  const { dir, remote } = opts;
  const fresh = !fs.existsSync(path.join(dir, '.git'));
  if (fresh) {
    if (fs.existsSync(dir) && fs.readdirSync(dir).length > 0) {
      throw new HyperhiveError('conflict', `${dir} exists, is not empty and is not a git clone: move it away first`, { dir });
    }
    fs.mkdirSync(dir, { recursive: true });
    await git(['init', '-q', '--initial-branch=proposed', dir], { cwd: path.dirname(dir) });
  }
  await git(['config', 'remote.origin.url', remote], { cwd: dir });
  await git(['config', '--replace-all', 'remote.origin.fetch', '+refs/heads/*:refs/remotes/origin/*'], { cwd: dir });
  // Local commits are replayed on top of whatever an operator or the manager pushed meanwhile.
  await git(['config', 'pull.rebase', 'true'], { cwd: dir });
  await git(['config', 'push.default', 'upstream'], { cwd: dir });
  if (opts.identity) {
    await git(['config', 'user.name', opts.identity.name], { cwd: dir });
    await git(['config', 'user.email', opts.identity.email], { cwd: dir });
  }
  await configureCredentialHelper(dir, opts.username, opts.tokenFile);
  const fetched = await git(['fetch', '-q', '--prune', 'origin'], { cwd: dir, allowFail: true });
  if (fetched.code !== 0) {
    throw new HyperhiveError('git_failed', `could not fetch ${remote}: ${fetched.stderr.trim() || `exit ${fetched.code}`}`, { remote });
  }
  const branches = {} as Record<CloneBranch, BranchState>;
  for (const b of BRANCHES) branches[b] = await syncBranch(dir, b);
  return { dir, remote, branches };
}

export interface PrepareAgentCloneOptions {
  /** The controller's base URL as the agent reaches it (HYPERHIVE_URL). */
  url: string;
  agent: string;
  /** HYPERHIVE_TOKEN_FILE: read by the credential helper at each use, never copied. */
  tokenFile: string;
  /** HYPERHIVE_STATE_DIR: the clone goes to <stateDir>/repo. */
  stateDir: string;
}

/** Prepares (or refreshes) the agent's working clone at <stateDir>/repo, proposed checked out. */
export async function prepareAgentClone(opts: PrepareAgentCloneOptions): Promise<CloneResult> {
  assertAgentName(opts.agent);
  return setupClone({
    dir: path.join(path.resolve(opts.stateDir), 'repo'),
    remote: gitRemoteUrl(opts.url, opts.agent),
    username: opts.agent,
    tokenFile: path.resolve(opts.tokenFile),
    identity: identityFor(opts.agent),
  });
}
