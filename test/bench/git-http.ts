// P5: git over our HTTP endpoint vs git by path. A fresh 1,000-file commit pushed over
// /git/<agent>.git (git-http-backend behind auth) alternates with another fresh one pushed by path
// to the same bare repo (same hooks), medians and their ratio (goal ≤ 1.3×); then the clone time
// of a repo with 1,000 commits, over HTTP and by path for scale.
// Run alone: `node --import tsx test/bench/git-http.ts`.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gitCli, mustGit } from '../helpers/git.ts';
import { tmpDir } from '../helpers/paths.ts';
import { startGitHttp } from '../helpers/git-http.ts';

type Report = (name: string, value: number, unit: string, note?: string) => void;

const FILES = 1000;
const ROUNDS = 5;
const HISTORY = 1000;

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2; };

/** A new commit adding FILES small distinct files, made outside the timed part. */
async function freshCommit(dir: string, tag: string): Promise<void> {
  const sub = path.join(dir, `batch-${tag}`);
  fs.mkdirSync(sub, { recursive: true });
  for (let i = 0; i < FILES; i++) fs.writeFileSync(path.join(sub, `file-${i}.md`), `batch ${tag}, file ${i}\n${'x'.repeat(64 + (i % 97))}\n`);
  await mustGit(['add', '-A', '--', `batch-${tag}`], { cwd: dir });
  await mustGit(['commit', '-q', '-m', `batch ${tag}: ${FILES} files`], { cwd: dir });
}

/**
 * CPU time of this process plus every child it reaped (Linux /proc): the server runs in-process,
 * so both the git client and the http-backend/receive-pack/hooks of either path are counted. On 2
 * shared cores wall time mostly measures the neighbours; CPU time measures the work.
 */
function cpuMs(): number | null {
  try {
    const stat = fs.readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14-17 of stat (utime stime cutime cstime), counted from `state` as field 3.
    const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(f[i]), 0);
    return (ticks * 1000) / 100;
  } catch { return null; }
}

interface Timing { wall: number; cpu: number | null }

async function timed(fn: () => Promise<void>): Promise<Timing> {
  const c0 = cpuMs();
  const t0 = performance.now();
  await fn();
  const wall = performance.now() - t0;
  const c1 = cpuMs();
  return { wall, cpu: c0 === null || c1 === null ? null : c1 - c0 };
}

async function push(dir: string, remote: string): Promise<void> {
  const r = await gitCli(['push', '-q', remote, 'HEAD:refs/heads/proposed'], { cwd: dir });
  if (r.code !== 0) throw new Error(`push to ${remote.replace(/\/\/[^@]*@/, '//')} failed: ${r.stderr}`);
}

/** HISTORY commits on top of proposed, written by fast-import (quick), landed with one push by path. */
async function buildHistory(dir: string, bare: string): Promise<void> {
  const base = (await mustGit(['rev-parse', 'HEAD'], { cwd: dir })).trim();
  const parts: string[] = [];
  const data = (s: string) => `data ${Buffer.byteLength(s)}\n${s}\n`;
  for (let i = 1; i <= HISTORY; i++) {
    parts.push(`commit refs/heads/proposed\nmark :${i}\ncommitter bench <bench@hyperhive.local> ${1_700_000_000 + i} +0000\n`);
    parts.push(data(`history ${i}`));
    parts.push(i === 1 ? `from ${base}\n` : `from :${i - 1}\n`);
    parts.push(`M 100644 inline notes/entry-${i % 50}.md\n${data(`entry ${i}\n`)}`);
  }
  const r = await gitCli(['fast-import', '--quiet'], { cwd: dir, input: parts.join('') });
  if (r.code !== 0) throw new Error(`fast-import: ${r.stderr}`);
  await mustGit(['reset', '-q', '--hard', 'refs/heads/proposed'], { cwd: dir });
  await push(dir, bare);
}

export async function benchGitHttp(report: Report): Promise<void> {
  const f = await startGitHttp({ agents: ['bench', 'history'] });
  try {
    const dir = path.join(f.dir, 'work', 'bench');
    await mustGit(['clone', '-q', '--branch', 'proposed', f.remote('bench', 'operator'), dir]);
    const http: Timing[] = [];
    const byPath: Timing[] = [];
    // One unmeasured round of each warms caches (page cache, tsx's transform cache for the hook).
    await freshCommit(dir, 'warm-http'); await push(dir, 'origin');
    await freshCommit(dir, 'warm-path'); await push(dir, f.repo('bench'));
    for (let i = 0; i < ROUNDS; i++) {
      // Alternating, so drift in machine load hits both sides alike.
      await freshCommit(dir, `http-${i}`);
      http.push(await timed(() => push(dir, 'origin')));
      await freshCommit(dir, `path-${i}`);
      byPath.push(await timed(() => push(dir, f.repo('bench'))));
    }
    const h = median(http.map((x) => x.wall));
    const p = median(byPath.map((x) => x.wall));
    const list = (xs: Timing[]) => xs.map((x) => x.wall.toFixed(0)).join(', ');
    report('P5 push fresh 1,000-file commit over HTTP', h, 'ms', `wall, median of ${ROUNDS}: ${list(http)}`);
    report('P5 push fresh 1,000-file commit by path', p, 'ms', `wall, median of ${ROUNDS}, same repo and hooks, alternating: ${list(byPath)}`);
    report('P5 push HTTP / by path (wall)', h / p, 'x', 'goal ≤ 1.3×');
    if (http.every((x) => x.cpu !== null) && byPath.every((x) => x.cpu !== null)) {
      const hc = median(http.map((x) => x.cpu!));
      const pc = median(byPath.map((x) => x.cpu!));
      report('P5 push fresh 1,000-file commit over HTTP, CPU', hc, 'ms', 'client git + server relay + http-backend + receive-pack + hooks');
      report('P5 push fresh 1,000-file commit by path, CPU', pc, 'ms', 'client git + receive-pack + hooks');
      report('P5 push HTTP / by path (CPU)', hc / pc, 'x', 'goal ≤ 1.3×; insensitive to load from other processes');
    }

    const hdir = path.join(f.dir, 'work', 'history');
    await mustGit(['clone', '-q', '--branch', 'proposed', f.remote('history', 'operator'), hdir]);
    await buildHistory(hdir, f.repo('history'));
    const count = (await mustGit(['rev-list', '--count', 'refs/heads/proposed'], { cwd: hdir })).trim();
    const cloneHttp: number[] = [];
    const clonePath: number[] = [];
    for (let i = 0; i < 3; i++) {
      const a = path.join(f.dir, 'clones', `http-${i}`);
      cloneHttp.push((await timed(async () => { await mustGit(['clone', '-q', f.remote('history', 'operator'), a]); })).wall);
      const b = path.join(f.dir, 'clones', `path-${i}`);
      // file:// makes git go through upload-pack as it would remotely, not hardlink the objects.
      clonePath.push((await timed(async () => { await mustGit(['clone', '-q', `file://${f.repo('history')}`, b]); })).wall);
    }
    report('P5 clone repo with 1,000 commits over HTTP', median(cloneHttp), 'ms', `${count} commits on proposed; median of 3`);
    report('P5 clone repo with 1,000 commits by path (file://)', median(clonePath), 'ms', `median of 3; HTTP/path ${(median(cloneHttp) / median(clonePath)).toFixed(2)}×`);
  } finally {
    await f.close();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  await benchGitHttp((name, value, unit, note) => {
    console.log(`${name.padEnd(52)} ${value.toFixed(value < 100 ? 2 : 0).padStart(10)} ${unit}${note ? `  (${note})` : ''}`);
  });
}

/**
 * P5 as the issue defines it: `git push` start → the request visible in GET /api/approvals, over
 * HTTP and by path, alternating on one agent of a real `hyperhive serve`, for a one-file and a
 * 1,000-file commit. The HTTP push returns once post-receive has heard back from the controller,
 * which answers after the raise, so its request is visible when the push returns; by path the push
 * returns first and the raise follows. Breakdown: until the push returned, and push returned → visible.
 */
export async function benchGitHttpVisible(report: Report): Promise<void> {
  const { Bench } = await import('./core.ts');
  const b = await Bench.start('idle');
  const dir = tmpDir('hh-bench-p5-');
  try {
    await b.createAgent('p5');
    const remote = `${b.s.url.replace('://', `://operator:${encodeURIComponent(b.token)}@`)}/git/p5.git`;
    await mustGit(['clone', '-q', '--branch', 'proposed', remote, dir]);
    const visible = async (head: string) => {
      for (;;) {
        const open = (await b.api<{ head: string; status: string }[]>('GET', '/api/approvals?agent=p5&status=pending')).body;
        if (open.some((r) => r.head === head)) return;
        await b.next();
      }
    };
    for (const [label, files] of [['one-file', 1], ['1,000-file', FILES]] as const) {
      const rows: Record<'http' | 'path', { pushed: number; visible: number }[]> = { http: [], path: [] };
      for (let i = -1; i < ROUNDS; i++) {
        for (const via of ['http', 'path'] as const) {
          // The same paths each round with new content: the net change applied..proposed (what the
          // raise diffs) stays `files` files instead of growing with every round.
          const sub = path.join(dir, `v-${label}`);
          fs.mkdirSync(sub, { recursive: true });
          for (let k = 0; k < files; k++) fs.writeFileSync(path.join(sub, `f-${k}.md`), `${label} ${via} ${i} ${k}\n`);
          await mustGit(['add', '-A'], { cwd: dir });
          await mustGit(['commit', '-q', '-m', `${label} ${via} ${i}`], { cwd: dir });
          const head = (await mustGit(['rev-parse', 'HEAD'], { cwd: dir })).trim();
          const t0 = performance.now();
          await push(dir, via === 'http' ? 'origin' : b.repo('p5'));
          const pushed = performance.now() - t0;
          await visible(head);
          if (i >= 0) rows[via].push({ pushed, visible: performance.now() - t0 });
        }
      }
      const h = median(rows.http.map((r) => r.visible));
      const p = median(rows.path.map((r) => r.visible));
      report(`P5 ${label} push → request visible, over HTTP`, h, 'ms', `median of ${ROUNDS}; push returned at ${median(rows.http.map((r) => r.pushed)).toFixed(0)} ms (post-receive waits for the raise)`);
      report(`P5 ${label} push → request visible, by path`, p, 'ms', `median of ${ROUNDS}; push returned at ${median(rows.path.map((r) => r.pushed)).toFixed(0)} ms, the raise after it`);
      report(`P5 ${label} push → request visible, HTTP / by path`, h / p, 'x', 'goal ≤ 1.3× (for the 1,000-file push)');
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    await b.close();
  }
}
