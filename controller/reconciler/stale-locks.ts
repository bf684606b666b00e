import fs from 'node:fs';
import path from 'node:path';

/** git holds a ref lock for milliseconds; one this old was left by a git process that died holding it. */
export const STALE_LOCK_MS = 30_000;

/**
 * The locks a killed git leaves behind on the branches others write too (pushes, the controller's own
 * revert/rollback/model commits). `applied.lock` is not here: only the controller writes `applied`,
 * and the reconciler clears that one at every pass.
 */
export const SHARED_REF_LOCKS = ['refs/heads/proposed.lock', 'refs/heads/live.lock', 'packed-refs.lock'] as const;

export type LockState = 'removed' | 'young' | 'absent';

/**
 * Removes `lockFile` when its mtime is older than `olderThanMs`; a younger lock belongs to an update in
 * progress and is never touched. A lock cannot be re-created while the stale one exists (git creates
 * it with O_EXCL), so the lock removed is the one judged stale.
 */
export function removeLockIfStale(lockFile: string, opts: { now?: number; olderThanMs?: number } = {}): LockState {
  const now = opts.now ?? Date.now();
  const olderThan = opts.olderThanMs ?? STALE_LOCK_MS;
  let st: fs.Stats;
  try { st = fs.lstatSync(lockFile); } catch { return 'absent'; }
  if (!st.isFile() || now - st.mtimeMs < olderThan) return st.isFile() ? 'young' : 'absent';
  try { fs.unlinkSync(lockFile); } catch { return 'absent'; }
  return 'removed';
}

/**
 * Clears the stale `proposed`, `live` and `packed-refs` locks of one bare repo, without which every
 * later push or controller commit to that branch would fail. Returns the absolute paths removed.
 */
export function clearStaleRefLocks(repo: string, opts: { now?: number; olderThanMs?: number } = {}): { removed: string[] } {
  const removed: string[] = [];
  for (const rel of SHARED_REF_LOCKS) {
    const file = path.join(repo, rel);
    if (removeLockIfStale(file, opts) === 'removed') removed.push(file);
  }
  return { removed };
}
