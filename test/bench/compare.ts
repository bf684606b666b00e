// `node --import tsx test/bench/compare.ts --baseline REF [--rounds N] [NAME…]`: runs the benchmarks of
// an earlier revision (REF, checked out in a temporary git worktree sharing node_modules) and of this
// tree in the same run, alternating, and prints each figure's median on both sides and their ratio.
// A refactor that claims "behaviour unchanged" shows it here: ratios within noise, measured on the
// same machine at the same load. NAME filters modules as `npm run bench` does.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../helpers/paths.ts';

interface Figure { module: string; name: string; unit: string; values: number[] }

/** The `  name: value unit  (note)` lines `run.ts` prints under each `== benchX (test/bench/file.ts)` header. */
export function parseBenchOutput(out: string): { module: string; name: string; value: number; unit: string }[] {
  const rows: { module: string; name: string; value: number; unit: string }[] = [];
  let module = '';
  for (const line of out.split('\n')) {
    const h = /^== \w+ \(test\/bench\/([\w-]+)\.ts\)/.exec(line);
    if (h) { module = h[1]!; continue; }
    const m = /^ {2}(.+?): (-?[\d.]+(?:e[+-]?\d+)?|NaN|Infinity) (\S+)(?: {2}\(.*\))?$/.exec(line);
    if (m && module && !m[1]!.startsWith('done in')) rows.push({ module, name: m[1]!, value: Number(m[2]), unit: m[3]! });
  }
  return rows;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

function runBench(cwd: string, names: string[], label: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/bench/run.ts', ...names], { cwd, env: process.env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d; for (const l of d.toString().split('\n')) if (/^ {2}\S/.test(l)) process.stdout.write(`  [${label}] ${l.trim()}\n`); });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 || out.includes('figures from') ? resolve(out) : reject(new Error(`${label} bench exited with ${code}`))));
  });
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({ options: { baseline: { type: 'string' }, rounds: { type: 'string', default: '1' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  if (values.help || !values.baseline) {
    console.log('usage: node --import tsx test/bench/compare.ts --baseline REF [--rounds N] [NAME…]\n  runs REF\'s benchmarks and this tree\'s in the same run, alternating, and prints the ratios');
    return values.help ? 0 : 2;
  }
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) { console.error(`--rounds must be a positive integer, got ${values.rounds}`); return 2; }
  const sha = execFileSync('git', ['rev-parse', '--verify', `${values.baseline}^{commit}`], { cwd: PROJECT_ROOT, encoding: 'utf8' }).trim();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `hh-bench-baseline-${sha.slice(0, 7)}-`));
  execFileSync('git', ['worktree', 'add', '--detach', '-q', dir, sha], { cwd: PROJECT_ROOT });
  fs.symlinkSync(path.join(PROJECT_ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  const figures = new Map<string, { base: Figure; cur: Figure }>();
  const add = (side: 'base' | 'cur', out: string) => {
    for (const r of parseBenchOutput(out)) {
      const k = `${r.module}\0${r.name}\0${r.unit}`;
      const f = figures.get(k) ?? { base: { ...r, values: [] }, cur: { ...r, values: [] } };
      f[side].values.push(r.value);
      figures.set(k, f);
    }
  };
  try {
    console.log(`baseline ${sha.slice(0, 7)} (${values.baseline}) vs this tree, ${rounds} round(s), load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    for (let i = 0; i < rounds; i++) {
      // Alternate which side goes first, so a machine growing busier during the run favours neither.
      const order: ['base' | 'cur', string][] = i % 2 === 0 ? [['base', dir], ['cur', PROJECT_ROOT]] : [['cur', PROJECT_ROOT], ['base', dir]];
      for (const [side, cwd] of order) add(side, await runBench(cwd, positionals, `${side === 'base' ? 'baseline' : 'current'} ${i + 1}`));
    }
  } finally {
    execFileSync('git', ['worktree', 'remove', '--force', dir], { cwd: PROJECT_ROOT });
  }
  const rows = [...figures.values()].filter((f) => f.base.values.length && f.cur.values.length);
  // Same-run controls: figures that run no project code (git alone, sqlite alone). Their ratio is how
  // much busier the machine was for one side; dividing by it leaves what the code changed.
  const ratioOf = (module: string, name: string): number | null => {
    const f = rows.find((r) => r.base.module === module && r.base.name === name);
    return f ? median(f.cur.values) / median(f.base.values) : null;
  };
  const processControl = ratioOf('core', 'P1 floor: git push with only the reference-transaction hook, median');
  const sqliteControl = ratioOf('bus', 'raw better-sqlite3 insert+select');
  const control = (module: string, unit: string): number | null => {
    if (module === 'bus') return sqliteControl === null ? null : unit.endsWith('/s') ? sqliteControl : 1 / sqliteControl;
    return processControl;
  };
  if (processControl !== null) console.log(`control (processes): git push with only the hook, current/baseline ${processControl.toFixed(2)}×`);
  if (sqliteControl !== null) console.log(`control (CPU): raw sqlite insert+select throughput, current/baseline ${sqliteControl.toFixed(2)}×`);
  const head = ['module', 'figure', 'unit', 'baseline', 'current', 'current/baseline', 'over control'];
  const body = rows.map(({ base, cur }) => {
    const b = median(base.values); const c = median(cur.values);
    const k = control(base.module, base.unit);
    return [base.module, base.name, base.unit, b.toFixed(2), c.toFixed(2), b ? `${(c / b).toFixed(2)}×` : '-', b && k ? `${(c / b / k).toFixed(2)}×` : '-'];
  });
  const w = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i >= 3 ? c.padStart(w[i]!) : c.padEnd(w[i]!))).join('  ');
  console.log(`\n${line(head)}\n${w.map((n) => '-'.repeat(n)).join('  ')}\n${body.map(line).join('\n')}`);
  const onlyOne = [...figures.values()].filter((f) => !f.base.values.length || !f.cur.values.length).map((f) => `${f.base.module} ${f.base.name}`);
  if (onlyOne.length) console.log(`\nfigures on one side only: ${onlyOne.join('; ')}`);
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.join(PROJECT_ROOT, 'test', 'bench', 'compare.ts')) process.exitCode = await main();
