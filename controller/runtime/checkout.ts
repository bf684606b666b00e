import fs from 'node:fs/promises';
import path from 'node:path';
import { git } from '../../repos/git.ts';

export const REVISION_FILE = '.hyperhive-revision';

/**
 * Writes the tree of `revision` into a fresh directory beside `dir` and returns its path; nothing the
 * agent sees changes until `installStaged` swaps it in, so a slow stage never disturbs a running agent.
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
