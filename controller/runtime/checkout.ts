import fs from 'node:fs/promises';
import path from 'node:path';
import { HyperhiveError } from '../errors.ts';
import { git } from '../../repos/git.ts';
import { linkProblem, SYMLINK_MODE } from '../../repos/links.ts';

export const REVISION_FILE = '.hyperhive-revision';

/** Symbolic links under `dir`, as paths relative to it (lstat: none is followed). */
async function symlinksUnder(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(path.join(dir, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isSymbolicLink()) out.push(p);
    else if (e.isDirectory()) out.push(...await symlinksUnder(dir, p));
  }
  return out;
}

/**
 * Writes the tree of `revision` into a fresh directory beside `dir` and returns its path; nothing the
 * agent sees changes until `installStaged` swaps it in, so a slow stage never disturbs a running agent.
 * A revision holding a symbolic link is refused before anything is swapped in: the receive rules
 * keep links out of the repo, and this keeps one that got in anyway (an old commit, a push by
 * someone with the repo's directory) from pointing the agent at a host file.
 */
export async function stageRevision(repo: string, revision: string, dir: string): Promise<string> {
  const parent = path.dirname(dir);
  await fs.mkdir(parent, { recursive: true });
  const tmp = await fs.mkdtemp(path.join(parent, `.config-${revision.slice(0, 7)}-`));
  // Beside the work tree, not in it: a file of the revision could have the index's name.
  const index = `${tmp}.index`;
  try {
    // One git process (read-tree -u writes the files too): each spawn of this large process costs
    // 10–20 ms, and every config check and every apply checks out.
    const env = { GIT_INDEX_FILE: index, GIT_WORK_TREE: tmp };
    await git(['read-tree', '--reset', '-u', revision], { repo, env });
    // Looked for in the written tree rather than with another git process: a walk of a config
    // directory costs far less than a spawn, and nothing reads this directory before the swap.
    const links = await symlinksUnder(tmp);
    if (links.length) {
      throw new HyperhiveError('unprocessable', `revision ${revision.slice(0, 7)} cannot be checked out: ${links.map((l) => linkProblem(l, SYMLINK_MODE)).join('; ')}`, { revision, links });
    }
    await fs.writeFile(path.join(tmp, REVISION_FILE), `${revision}\n`);
    return tmp;
  } catch (e) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw e;
  } finally {
    await fs.rm(index, { force: true });
  }
}

/** Swaps a staged checkout into `dir` whole: the agent never sees half of one revision and half of another. */
export async function installStaged(staged: string, dir: string): Promise<void> {
  const old = `${dir}.old-${process.pid}-${Date.now()}`;
  await fs.rename(dir, old).catch(() => undefined);
  await fs.rename(staged, dir);
  await fs.rm(old, { recursive: true, force: true });
}

/** Checks `revision` out into `dir` in one step (stage, then swap in); files the change removed are gone. */
export async function checkoutRevision(repo: string, revision: string, dir: string): Promise<void> {
  const staged = await stageRevision(repo, revision, dir);
  try {
    await installStaged(staged, dir);
  } catch (e) {
    await fs.rm(staged, { recursive: true, force: true });
    throw e;
  }
}

export async function checkedOutRevision(dir: string): Promise<string | null> {
  try { return (await fs.readFile(path.join(dir, REVISION_FILE), 'utf8')).trim() || null; } catch { return null; }
}
