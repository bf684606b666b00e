// Native git (repos/*, the `git` binary) against isomorphic-git doing the same operation on the same
// repo in the same run. Run alone: `node --import tsx test/bench/git-ops.ts`.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import iso from 'isomorphic-git';
import { createRepo } from '../../repos/store.ts';
import { readRefs } from '../../repos/refs.ts';
import { readFileAt } from '../../repos/read.ts';
import { changedPaths } from '../../repos/diff.ts';
import { commitFiles } from '../../repos/commit.ts';
import { identityFor } from '../../repos/identity.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RUNS = 30;

async function median(fn: () => Promise<unknown>, runs = RUNS): Promise<number> {
  await fn(); // warm-up: module loading, caches, first spawn
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const mid = Math.floor(times.length / 2);
  return times.length % 2 ? times[mid] : (times[mid - 1] + times[mid]) / 2;
}

/** A repo shaped like a busy agent's: 60 config files in a few dirs, then a change with edits, a rename, a delete. */
async function buildRepo(dir: string) {
  const repo = path.join(dir, 'bench.git');
  const roots = await createRepo(repo, { agent: 'bench', templatesDir: path.join(ROOT, 'templates'), eventsFile: path.join(dir, 'refs.jsonl'), author: identityFor('operator'), projectRoot: ROOT });
  const files: Record<string, string> = {};
  for (let i = 0; i < 60; i++) files[`modules/m${i % 6}/file${i}.nix`] = `# file ${i}\n` + `{ x = ${i}; }\n`.repeat(40);
  const base = await commitFiles(repo, { branch: 'proposed', files, message: 'many files', author: identityFor('operator'), expectedOld: roots.config });
  const head = await commitFiles(repo, {
    branch: 'proposed', message: 'a change', author: identityFor('operator'), expectedOld: base,
    files: {
      'modules/m0/file0.nix': files['modules/m0/file0.nix'] + '{ y = 1; }\n',
      'modules/m1/file1.nix': null,
      'modules/renamed/file2.nix': files['modules/m2/file2.nix'],
      'modules/m2/file2.nix': null,
      'prompt.md': 'a new prompt\n',
      'new/thing.json': '{"a":1}\n',
    },
  });
  return { repo, roots, base, head };
}

export async function benchGitOps(report: (name: string, medianMs: number, note?: string) => void): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hh-bench-git-'));
  try {
    const { repo, roots, base, head } = await buildRepo(dir);
    const gitdir = repo;
    const cache = {};

    report('readRefs native', await median(() => readRefs(repo)), 'one for-each-ref');
    report('readRefs isomorphic', await median(async () => {
      for (const b of ['proposed', 'applied', 'live']) {
        try { await iso.resolveRef({ fs, gitdir, ref: `refs/heads/${b}` }); } catch { /* missing */ }
      }
    }), 'three resolveRef');

    report('readFileAt native', await median(() => readFileAt(repo, head, 'modules/m0/file0.nix')));
    report('readFileAt isomorphic', await median(() => iso.readBlob({ fs, gitdir, oid: head, filepath: 'modules/m0/file0.nix', cache })));

    report('changedPaths native', await median(() => changedPaths(repo, base, head)), 'with renames and line counts');
    report('changedPaths isomorphic', await median(() => iso.walk({
      fs, gitdir, cache,
      trees: [iso.TREE({ ref: base }), iso.TREE({ ref: head })],
      map: async (filepath, [a, b]) => {
        if (filepath === '.') return undefined;
        const ta = a ? await a.type() : undefined;
        const tb = b ? await b.type() : undefined;
        if (ta === 'tree' || tb === 'tree') return undefined;
        const oa = a ? await a.oid() : undefined;
        const ob = b ? await b.oid() : undefined;
        if (oa === ob) return undefined;
        return { path: filepath, status: !oa ? 'A' : !ob ? 'D' : 'M' };
      },
    })), 'tree walk only: no rename detection, no line counts');

    // Both write on `live`'s history so neither disturbs the other's chain; native does CAS and fires the hook.
    let nativeOld = roots.live;
    let n = 0;
    report('commitFiles native', await median(async () => {
      nativeOld = await commitFiles(repo, { branch: 'live', files: { 'notes.md': `note ${n++}\n` }, message: 'note', author: identityFor('bench'), expectedOld: nativeOld });
    }), 'temp index, CAS, reference-transaction hook');
    let isoOld = roots.live;
    let m = 0;
    report('commitFiles isomorphic', await median(async () => {
      const blob = await iso.writeBlob({ fs, gitdir, blob: Buffer.from(`note ${m++}\n`) });
      const { tree: entries } = await iso.readTree({ fs, gitdir, oid: isoOld, cache });
      const next = entries.filter((e) => e.path !== 'notes.md');
      next.push({ mode: '100644', path: 'notes.md', oid: blob, type: 'blob' });
      const tree = await iso.writeTree({ fs, gitdir, tree: next });
      const now = Math.floor(Date.now() / 1000);
      const tz = new Date().getTimezoneOffset();
      const commit = await iso.writeCommit({
        fs, gitdir,
        commit: {
          message: 'note\n', tree, parent: [isoOld],
          author: { name: 'bench', email: 'bench@hyperhive.local', timestamp: now, timezoneOffset: tz },
          committer: { name: 'hyperhive', email: 'controller@hyperhive.local', timestamp: now, timezoneOffset: tz },
        },
      });
      await iso.writeRef({ fs, gitdir, ref: 'refs/heads/bench-iso', value: commit, force: true });
      isoOld = commit;
    }), 'no CAS, no hook (writeRef does not run git hooks)');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const rows = new Map<string, { native?: number; iso?: number; notes: string[] }>();
  await benchGitOps((name, ms, note) => {
    const [op, impl] = name.split(' ');
    const row = rows.get(op) ?? { notes: [] };
    if (impl === 'native') row.native = ms; else row.iso = ms;
    if (note) row.notes.push(`${impl}: ${note}`);
    rows.set(op, row);
  });
  const fmt = (x?: number) => (x === undefined ? '-' : x.toFixed(2));
  console.log(`git operations, median of ${RUNS} runs (ms)`);
  console.log(['op'.padEnd(14), 'native'.padStart(9), 'isomorphic'.padStart(11), 'iso/native'.padStart(11), '  notes'].join(' '));
  for (const [op, r] of rows) {
    const ratio = r.native && r.iso ? (r.iso / r.native).toFixed(2) : '-';
    console.log([op.padEnd(14), fmt(r.native).padStart(9), fmt(r.iso).padStart(11), ratio.padStart(11), '  ' + r.notes.join('; ')].join(' '));
  }
}
