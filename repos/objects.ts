import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

// In-process reads of loose objects, for the reconciler's hot path. A push of fewer than 100
// objects (git's transfer.unpackLimit) leaves them loose, so the commits a pass needs right after a
// push are files here; each read saves a git process (10–20 ms of fork on a large controller heap).
// Anything else — a packed object, a repo with grafts, replacements or a shallow history, a damaged
// file — returns null and the caller asks git, which also reports corruption properly.

export interface LooseCommit { tree: string; parents: string[] }

const SHA = /^[0-9a-f]{40}$/;

/** True when git's answers could differ from a plain walk of the commit objects. */
function hasHistoryRewrites(repo: string): boolean {
  return fs.existsSync(path.join(repo, 'shallow')) || fs.existsSync(path.join(repo, 'info', 'grafts')) || fs.existsSync(path.join(repo, 'refs', 'replace'));
}

export const looseObjectPath = (repo: string, sha: string): string => path.join(repo, 'objects', sha.slice(0, 2), sha.slice(2));

/** The commit's tree and parents from its loose object, or null (not loose, unreadable, not a commit). */
export function readLooseCommit(repo: string, sha: string): LooseCommit | null {
  if (!SHA.test(sha)) return null;
  let raw: Buffer;
  try {
    raw = zlib.inflateSync(fs.readFileSync(looseObjectPath(repo, sha)));
  } catch {
    return null;
  }
  const nul = raw.indexOf(0);
  if (nul < 0) return null;
  const header = raw.subarray(0, nul).toString('latin1');
  const m = /^commit (\d+)$/.exec(header);
  if (!m || Number(m[1]) !== raw.length - nul - 1) return null;
  // The header lines end at the first empty line; tree first, then parents, then author.
  const end = raw.indexOf('\n\n', nul + 1);
  const lines = raw.subarray(nul + 1, end < 0 ? raw.length : end).toString('latin1').split('\n');
  const tree = lines[0]?.startsWith('tree ') ? lines[0].slice(5) : '';
  if (!SHA.test(tree)) return null;
  const parents: string[] = [];
  for (const l of lines.slice(1)) {
    if (!l.startsWith('parent ')) break;
    const p = l.slice(7);
    if (!SHA.test(p)) return null;
    parents.push(p);
  }
  return { tree, parents };
}

/** The tree of a loose commit, or null when git has to answer. */
export function looseTreeOf(repo: string, commit: string): string | null {
  return readLooseCommit(repo, commit)?.tree ?? null;
}

/**
 * Is `ancestor` reachable from `descendant`, walking loose commits only? true/false when the walk
 * decided it; null when it reached a commit that is not loose (or went on too long): ask git then.
 */
export function looseIsAncestor(repo: string, ancestor: string, descendant: string, maxCommits = 256): boolean | null {
  if (!SHA.test(ancestor) || !SHA.test(descendant)) return null;
  if (ancestor === descendant) return true;
  if (hasHistoryRewrites(repo)) return null;
  const seen = new Set<string>([descendant]);
  const todo = [descendant];
  while (todo.length) {
    if (seen.size > maxCommits) return null;
    const c = readLooseCommit(repo, todo.pop()!);
    if (!c) return null;
    for (const p of c.parents) {
      if (p === ancestor) return true;
      if (!seen.has(p)) { seen.add(p); todo.push(p); }
    }
  }
  return false;
}
