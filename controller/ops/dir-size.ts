import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * Bytes of the regular files under `dir` (symlinks are not followed: an agent's state may link
 * anywhere); 0 when it does not exist. What the operator reads as "the size of its state".
 */
export async function dirSize(dir: string): Promise<number> {
  let total = 0;
  const walk = async (d: string): Promise<void> => {
    let entries: import('node:fs').Dirent[];
    try { entries = await fs.readdir(d, { withFileTypes: true }); } catch { return; }
    await Promise.all(entries.map(async (e) => {
      const p = path.join(d, e.name);
      if (e.isDirectory()) return walk(p);
      if (!e.isFile()) return;
      try { total += (await fs.lstat(p)).size; } catch { /* gone meanwhile */ }
    }));
  };
  await walk(dir);
  return total;
}
