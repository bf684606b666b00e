import { HyperhiveError } from '../controller/errors.ts';
import { git, checkRev } from './git.ts';

export interface CommitInfo { sha: string; tree: string; parents: string[]; author: { name: string; email: string; date: number /* ms */ }; subject: string; body: string }

export async function readFileAt(repo: string, rev: string, path: string): Promise<Buffer | null> {
  checkRev(rev);
  if (typeof path !== 'string' || path === '' || path.includes('\0') || path.includes('\n')) return null;
  const r = await git(['cat-file', 'blob', `${rev}:${path.replace(/^\/+/, '')}`], { repo, allowFail: true });
  return r.code === 0 ? r.stdout : null;
}

export async function listTree(repo: string, rev: string): Promise<{ path: string; mode: string; sha: string; size: number }[]> {
  checkRev(rev);
  const r = await git(['ls-tree', '-r', '-l', '-z', '--full-tree', rev], { repo, allowFail: true });
  if (r.code !== 0) throw new HyperhiveError('not_found', `no such revision: ${rev}`, { rev });
  const out: { path: string; mode: string; sha: string; size: number }[] = [];
  for (const rec of r.stdout.toString('utf8').split('\0')) {
    if (!rec) continue;
    const tab = rec.indexOf('\t');
    const [mode, , sha, size] = rec.slice(0, tab).split(/ +/);
    out.push({ path: rec.slice(tab + 1), mode, sha, size: size === '-' ? 0 : Number(size) });
  }
  return out;
}

/** Parses a raw commit object (what `cat-file commit` prints). */
export function parseCommit(sha: string, raw: Buffer): CommitInfo {
  const text = raw.toString('utf8');
  const split = text.indexOf('\n\n');
  const header = split < 0 ? text : text.slice(0, split);
  const message = split < 0 ? '' : text.slice(split + 2);
  let tree = '';
  const parents: string[] = [];
  let author = { name: '', email: '', date: 0 };
  for (const line of header.split('\n')) {
    if (line.startsWith(' ')) continue; // continuation of a multi-line header (gpgsig)
    const sp = line.indexOf(' ');
    const key = line.slice(0, sp);
    const val = line.slice(sp + 1);
    if (key === 'tree') tree = val;
    else if (key === 'parent') parents.push(val);
    else if (key === 'author') {
      const m = /^(.*?) ?<([^>]*)> (\d+)(?: [+-]\d{4})?$/.exec(val);
      if (m) author = { name: m[1], email: m[2], date: Number(m[3]) * 1000 };
    }
  }
  // Same split as git's %s / %b: the first paragraph (lines joined) is the subject.
  const lines = message.replace(/\s+$/, '').split('\n');
  let i = 0;
  while (i < lines.length && lines[i].trim() === '') i++;
  const subj: string[] = [];
  while (i < lines.length && lines[i].trim() !== '') subj.push(lines[i++].trim());
  while (i < lines.length && lines[i].trim() === '') i++;
  return { sha, tree, parents, author, subject: subj.join(' '), body: lines.slice(i).join('\n') };
}

export async function commitInfo(repo: string, sha: string): Promise<CommitInfo> {
  checkRev(sha, 'commit');
  const full = await git(['rev-parse', '--verify', '--quiet', `${sha}^{commit}`], { repo, allowFail: true });
  if (full.code !== 0) throw new HyperhiveError('not_found', `no such commit: ${sha}`, { sha });
  const id = full.stdout.toString('utf8').trim();
  const r = await git(['cat-file', 'commit', id], { repo });
  return parseCommit(id, r.stdout);
}

/** Commits in base..head (all of head's history when base is null), newest first. */
export async function logRange(repo: string, base: string | null, head: string, limit?: number): Promise<CommitInfo[]> {
  checkRev(head, 'head');
  if (base !== null) checkRev(base, 'base');
  // Children before parents, even for commits made in the same second (the default date order ties).
  const args = ['rev-list', '--topo-order'];
  if (limit !== undefined) args.push(`--max-count=${Math.max(0, Math.floor(limit))}`);
  args.push(head);
  if (base !== null) args.push(`^${base}`);
  const rl = await git(args, { repo, allowFail: true });
  if (rl.code !== 0) throw new HyperhiveError('not_found', `unknown revision in ${base ?? ''}..${head}: ${rl.stderr.trim()}`, { base, head });
  const shas = rl.stdout.toString('utf8').split('\n').filter(Boolean);
  if (shas.length === 0) return [];
  const batch = await git(['cat-file', '--batch'], { repo, input: shas.join('\n') + '\n' });
  const buf = batch.stdout;
  const out: CommitInfo[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const nl = buf.indexOf(0x0a, pos);
    if (nl < 0) break;
    const [id, type, size] = buf.subarray(pos, nl).toString('utf8').split(' ');
    const n = Number(size);
    if (type !== 'commit' || !Number.isFinite(n)) throw new HyperhiveError('git_failed', `unexpected cat-file output for ${id}`);
    out.push(parseCommit(id, buf.subarray(nl + 1, nl + 1 + n)));
    pos = nl + 1 + n + 1;
  }
  return out;
}
