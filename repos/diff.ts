import { createHash } from 'node:crypto';
import { git, checkRev } from './git.ts';

/**
 * One path of a diff, from git's machine output (`--raw -z`, `--numstat -z`): exact bytes of the
 * name, whatever it holds (spaces, tabs, quotes, newlines), unlike the patch's quoted headers.
 * Modes are git's (`100644`, `120000` for a symlink, `000000` where the side has no file).
 */
export interface ChangedPath { path: string; status: 'A' | 'M' | 'D' | 'R' | 'T'; oldPath?: string; oldMode: string; newMode: string; binary: boolean; additions: number; deletions: number }

// Plumbing diff with every external influence off: no color, no external diff driver, no textconv.
const DIFF_FLAGS = ['-r', '-M', '--no-color', '--no-ext-diff', '--no-textconv'];

/** Paths that differ between two commits, with rename detection and line counts (binary files marked). */
export async function changedPaths(repo: string, base: string, head: string): Promise<ChangedPath[]> {
  checkRev(base, 'base');
  checkRev(head, 'head');
  const r = await git(['diff-tree', ...DIFF_FLAGS, '-z', '--raw', '--numstat', base, head], { repo });
  return parseRawNumstat(r.stdout.toString('utf8'));
}

/**
 * changedPaths() and patch() from one git process: raising a request needs both, and on a
 * controller with a large heap each spawn costs 10–20 ms of fork on the event loop.
 * With -z, git ends the raw/numstat records with NUL and writes one more NUL before the patch, so
 * the first empty record (two NULs in a row: no record is empty) is where the patch starts; the patch
 * text is byte for byte what patch() returns (so is its hash).
 */
export async function diffSummary(repo: string, base: string, head: string): Promise<{ paths: ChangedPath[]; patch: string }> {
  checkRev(base, 'base');
  checkRev(head, 'head');
  const r = await git(['diff-tree', ...DIFF_FLAGS, '-z', '--raw', '--numstat', '-p', base, head], { repo });
  const out = r.stdout;
  const sep = out.indexOf('\0\0');
  if (sep < 0) return { paths: parseRawNumstat(out.toString('utf8')), patch: '' };
  return { paths: parseRawNumstat(out.subarray(0, sep + 1).toString('utf8')), patch: out.subarray(sep + 2).toString('utf8') };
}

function parseRawNumstat(text: string): ChangedPath[] {
  const tok = text.split('\0');
  const order: ChangedPath[] = [];
  const counts = new Map<string, { add: number; del: number; binary: boolean }>();
  let i = 0;
  while (i < tok.length) {
    const t = tok[i++]!;
    if (t === '') continue;
    if (t.startsWith(':')) {
      // :oldmode newmode oldsha newsha STATUS[score], then one path (two for a rename or copy)
      const [oldMode = '', newMode = '', , , letters] = t.slice(1).split(' ');
      const letter = letters?.[0] ?? 'M';
      let entry: ChangedPath;
      if (letter === 'R' || letter === 'C') {
        const oldPath = tok[i++]!;
        const path = tok[i++]!;
        entry = letter === 'R'
          ? { path, status: 'R', oldPath, oldMode, newMode, binary: false, additions: 0, deletions: 0 }
          : { path, status: 'A', oldMode: '000000', newMode, binary: false, additions: 0, deletions: 0 };
      } else {
        const path = tok[i++]!;
        const status = (['A', 'M', 'D', 'T'].includes(letter) ? letter : 'M') as ChangedPath['status'];
        entry = { path, status, oldMode, newMode, binary: false, additions: 0, deletions: 0 };
      }
      order.push(entry);
    } else {
      // added<TAB>deleted<TAB>path (the path may hold tabs itself), or added<TAB>deleted<TAB>
      // followed by the old and the new path for a rename
      const t1 = t.indexOf('\t');
      const t2 = t.indexOf('\t', t1 + 1);
      const a = t.slice(0, t1);
      const d = t.slice(t1 + 1, t2);
      let path = t.slice(t2 + 1);
      if (path === '') { i++; path = tok[i++]!; }
      const binary = a === '-' && d === '-';
      counts.set(path, { add: binary ? 0 : Number(a), del: binary ? 0 : Number(d), binary });
    }
  }
  for (const e of order) {
    const c = counts.get(e.path);
    if (c) { e.additions = c.add; e.deletions = c.del; e.binary = c.binary; }
  }
  return order;
}

/** Unified patch text (renames detected, binary files as "Binary files … differ"). Invalid UTF-8 becomes U+FFFD. */
export async function patch(repo: string, base: string, head: string): Promise<string> {
  checkRev(base, 'base');
  checkRev(head, 'head');
  const r = await git(['diff-tree', ...DIFF_FLAGS, '-p', base, head], { repo });
  return r.stdout.toString('utf8');
}

export function patchHash(patchText: string): string {
  return createHash('sha256').update(patchText, 'utf8').digest('hex');
}
