// `npm run bench [-- NAME…]`: imports every bench module under test/bench/ and calls each exported
// `bench*` function with a report callback, then prints one table of every figure. Not part of
// `npm test` (ava only looks at *.test.ts). NAME filters modules by file or function name.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface Row { module: string; name: string; value: number; unit: string; note: string }
type BenchFn = (report: (...args: unknown[]) => void) => Promise<void> | void;

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** Modules the project plans; each one missing is named in a "skipped" line rather than silently absent. */
const EXPECTED: { file: string; fn: string }[] = [
  { file: 'git-ops.ts', fn: 'benchGitOps' },
  { file: 'core.ts', fn: 'benchCore' },
  { file: 'bus.ts', fn: 'benchBus' },
  { file: 'git-http.ts', fn: 'benchGitHttp' },
  { file: 'web.ts', fn: 'benchWeb' },
  { file: 'containers.ts', fn: 'benchContainers' },
  { file: 'fleet.ts', fn: 'benchFleet' },
];
const UNITS = new Set(['ms', 's', 'µs', 'us', 'ns', 'ms/agent', 'ops/s', 'msg/s', 'req/s', 'MB/s', 'KB/s', 'B', 'KB', 'MB', '%', 'x', '×', 'count']);

/**
 * The project's report signature is (name, value, unit, note); git-ops.ts predates it with
 * (name, ms, note). A third argument that is not a unit is read as a note in milliseconds.
 */
export function normalize(module: string, args: unknown[]): Row {
  const [name, value, a, b] = args;
  let unit = 'ms'; let note = '';
  if (args.length >= 4) { unit = String(a ?? 'ms'); note = b === undefined ? '' : String(b); }
  else if (typeof a === 'string' && UNITS.has(a)) unit = a;
  else if (a !== undefined) note = String(a);
  return { module, name: String(name), value: Number(value), unit, note };
}

const fmtValue = (v: number): string => (!Number.isFinite(v) ? String(v) : Math.abs(v) >= 1000 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));

/** "X isomorphic" beside "X native", "… p95" beside a goal: a ratio column where a pair exists. */
function ratio(r: Row, rows: Row[]): string {
  const m = /^(.*) isomorphic$/.exec(r.name);
  if (m) {
    const base = rows.find((x) => x.module === r.module && x.name === `${m[1]} native` && x.unit === r.unit);
    if (base && base.value) return `${(r.value / base.value).toFixed(2)}× native`;
  }
  return '';
}

export function table(rows: Row[]): string {
  const head = ['module', 'figure', 'value', 'unit', 'ratio', 'note'];
  const body = rows.map((r) => [r.module, r.name, fmtValue(r.value), r.unit, ratio(r, rows), r.note]);
  const widths = head.map((h, i) => Math.min(i === 5 ? 200 : 60, Math.max(h.length, ...body.map((row) => row[i]!.length))));
  const line = (cells: string[]) => cells.map((c, i) => (i === 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

async function main(): Promise<number> {
  const filters = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const present = fs.readdirSync(HERE).filter((f) => f.endsWith('.ts') && f !== 'run.ts' && f !== 'compare.ts' && !f.endsWith('.d.ts')).sort();
  const rows: Row[] = [];
  const skipped: string[] = [];
  const failed: string[] = [];
  for (const e of EXPECTED) if (!present.includes(e.file)) skipped.push(`${e.fn}: test/bench/${e.file} is not present`);
  // Known modules in their planned order, then any other bench module found beside them.
  const order = [...EXPECTED.map((e) => e.file).filter((f) => present.includes(f)), ...present.filter((f) => !EXPECTED.some((e) => e.file === f))];
  console.log(`hyperhive benchmarks: node ${process.version}, ${os.cpus().length} CPU(s) ${os.cpus()[0]?.model ?? ''}, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  for (const file of order) {
    const mod = await import(pathToFileURL(path.join(HERE, file)).href) as Record<string, unknown>;
    const fns = Object.entries(mod).filter(([k, v]) => /^bench[A-Z]/.test(k) && typeof v === 'function') as [string, BenchFn][];
    if (!fns.length) { skipped.push(`test/bench/${file}: exports no bench* function`); continue; }
    for (const [fname, fn] of fns) {
      const label = file.replace(/\.ts$/, '');
      if (filters.length && !filters.some((f) => label.includes(f) || fname.toLowerCase().includes(f.toLowerCase()))) { skipped.push(`${fname}: not selected`); continue; }
      console.log(`\n== ${fname} (test/bench/${file})`);
      const t0 = performance.now();
      try {
        await fn((...args: unknown[]) => {
          const r = normalize(label, args);
          rows.push(r);
          console.log(`  ${r.name}: ${fmtValue(r.value)} ${r.unit}${r.note ? `  (${r.note})` : ''}`);
        });
        console.log(`  done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      } catch (e) {
        failed.push(`${fname}: ${(e as Error).message}`);
        console.log(`  FAILED: ${(e as Error).stack ?? e}`);
      }
    }
  }
  console.log('');
  for (const s of skipped) console.log(`skipped: ${s}`);
  for (const f of failed) console.log(`failed: ${f}`);
  console.log(`${rows.length} figures from ${new Set(rows.map((r) => r.module)).size} module(s)${failed.length ? `, ${failed.length} failed` : ''}:\n`);
  console.log(table(rows));
  return failed.length ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) process.exitCode = await main();
