// Stats: batched ingestion throughput (goal ≥ 100k points/s) and a 24 h series query for one agent at
// 1 point/s, 86,400 points (goal ≤ 50 ms median), on a real sqlite file with the controller's pragmas.
// Run alone: `node --import tsx test/bench/stats.ts`.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDb } from '../../controller/db/open.ts';
import { StatsStore } from '../../controller/stats/store.ts';

type Report = (name: string, value: number, unit: string, note?: string) => void;

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };
const p95 = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(s.length * 0.95))]!; };
const DAY = 86_400_000;
/** CPU time of this process in ms: on a shared, loaded machine it is closer to what the work costs than wall time. */
const cpuMs = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
/** `n` wall-clock timings of fn, in ms. */
const timed = (n: number, fn: () => unknown): number[] => Array.from({ length: n }, () => { const a = performance.now(); fn(); return performance.now() - a; });
const load = (): string => `load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} CPUs`;

/** Points through record() (validation, buffer, one transaction per 5000) until flushed; returns points/s. */
function ingest(store: StatsStore, n: number, t0: number): { wall: number; cpu: number } {
  const agents = Array.from({ length: 20 }, (_, i) => `agent-${i}`);
  const keys = ['turns', 'turn_duration_ms', 'tool_calls', 'cost_usd', 'tokens_input', 'tokens_output', 'inbox_depth', 'class:ok', 'tool:Bash', 'sent:peer'];
  const start = performance.now();
  const c0 = cpuMs();
  for (let i = 0; i < n; i++) {
    // every series gets a new millisecond per point: no merges, the worst case for the b-tree
    store.record(agents[i % agents.length]!, keys[Math.floor(i / agents.length) % keys.length]!, i % 97, t0 + Math.floor(i / 200));
  }
  store.flush();
  return { wall: n / ((performance.now() - start) / 1000), cpu: n / ((cpuMs() - c0) / 1000) };
}

export async function benchStats(report: Report): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hh-bench-stats-'));
  try {
    // ---- ingestion -------------------------------------------------------------------------
    const rates: number[] = [];
    const cpuRates: number[] = [];
    for (let run = 0; run < 3; run++) {
      const db = openDb(path.join(dir, `ingest-${run}.db`));
      const store = new StatsStore(db, { flushMs: 250, maxBuffer: 5000 });
      const r = ingest(store, 200_000, 1_700_000_000_000);
      rates.push(r.wall);
      cpuRates.push(r.cpu);
      store.close();
      db.close();
    }
    report('ingest batched (200k points, 20 agents × 10 keys)', median(rates), 'points/s', `wall clock, median of 3; goal ≥ 100000; ${load()}`);
    report('ingest batched, per CPU second', median(cpuRates), 'points/s', 'points per second of this process\'s CPU time (excludes waiting for a shared CPU)');

    // ---- 24 h series query -----------------------------------------------------------------
    const db = openDb(path.join(dir, 'query.db'));
    const store = new StatsStore(db, { maxBuffer: 10_000 });
    const t0 = 1_700_000_000_000 - (1_700_000_000_000 % DAY);
    // the queried series, and as many rows of other series around it in the same table
    for (let s = 0; s < 86_400; s++) {
      store.record('alice', 'inbox_depth', s % 13, t0 + s * 1000);
      store.record('alice', 'tokens_input', s % 1000, t0 + s * 1000);
      store.record('bob', 'inbox_depth', s % 7, t0 + s * 1000);
    }
    store.flush();
    const q = { agent: 'alice', key: 'inbox_depth', since: t0, until: t0 + DAY, step: 0 } as const;
    if (store.query(q).points.length !== 86_400) throw new Error('the 24 h query lost points');
    const times: number[] = [];
    const cpu: number[] = [];
    for (let i = 0; i < 25; i++) {
      const a = performance.now();
      const c = cpuMs();
      store.query(q);
      times.push(performance.now() - a);
      cpu.push(cpuMs() - c);
    }
    // Encoding measured apart: its garbage would otherwise be collected inside the next query's timing.
    const withJson = timed(10, () => JSON.stringify(store.query(q)));
    report('24h query, 1 point/s (86,400 points, raw)', median(times), 'ms', `wall clock, median of 25, p95 ${p95(times).toFixed(1)} ms; goal ≤ 50 ms; ${load()}`);
    report('24h query, CPU time', median(cpu), 'ms', 'median of 25: this process\'s CPU time per query');
    report('24h query + JSON encoding', median(withJson), 'ms', 'what GET /api/stats spends before sending');
    const bucketed = timed(25, () => store.query({ ...q, step: 60_000, agg: 'max' }));
    report('24h query, 1-minute buckets (1440 points, max)', median(bucketed), 'ms', 'median of 25');
    const pct = timed(5, () => store.query({ ...q, step: 300_000, agg: 'p95' }));
    report('24h p95 per 5 min (percentiles in JS)', median(pct), 'ms', 'median of 5');
    const m0 = performance.now();
    const r = store.maintain(t0 + 9 * DAY);
    report('downsample 259,200 raw rows to 5-min rollups', performance.now() - m0, 'ms', `${r.rollups} rollup rows`);
    store.close();
    db.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await benchStats((name, value, unit, note) => console.log(`${name}: ${value.toFixed(unit === 'ms' ? 2 : 0)} ${unit}${note ? ` (${note})` : ''}`));
}
