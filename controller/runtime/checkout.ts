import fs from 'node:fs/promises';
import path from 'node:path';
import { git } from '../../repos/git.ts';

export const REVISION_FILE = '.hyperhive-revision';

/**
 * Writes the tree of `revision` into `dir` as a fresh directory swapped into place, so the agent
 * never sees half of one revision and half of another, and files removed by the change are gone.
 */
export async function checkoutRevision(repo: string, revision: string, dir: string): Promise<void> {
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
    await fs.rm(index, { force: true });
    await fs.writeFile(path.join(tmp, REVISION_FILE), `${revision}\n`);
    const old = `${dir}.old-${process.pid}-${Date.now()}`;
    await fs.rename(dir, old).catch(() => undefined);
    await fs.rename(tmp, dir);
    await fs.rm(old, { recursive: true, force: true });
  } catch (e) {
    await fs.rm(tmp, { recursive: true, force: true });
    await fs.rm(index, { force: true });
    throw e;
  }
}

export async function checkedOutRevision(dir: string): Promise<string | null> {
  try { return (await fs.readFile(path.join(dir, REVISION_FILE), 'utf8')).trim() || null; } catch { return null; }
}
