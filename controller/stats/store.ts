import type Database from 'better-sqlite3';
import type { DB } from '../db/open.ts';
import { HyperhiveError } from '../errors.ts';
import { COMPUTED, assertKey, assertStatsAgent, keyInfo, type Agg } from './keys.ts';
import { bucketPercentiles } from './percentile.ts';

export type Point = [ts: number, value: number];

export interface SeriesQuery {
  agent: string;
  key: string;
  /** ms since the epoch, inclusive. */
  since: number;
  /** ms since the epoch, exclusive. */
  until: number;
  /** Bucket width in ms; 0 = one point per stored row. */
  step: number;
  /** Default: the key's own (see keys.ts). */
  agg?: Agg;
}

export interface Series { agent: string; key: string; agg: Agg; step: number; since: number; until: number; unit: string; points: Point[] }

export interface StatsStoreOptions {
  now?: () => number;
  /** Buffered points are written at the latest this long after the first one came (default 250 ms). */
  flushMs?: number;
  /** …or as soon as this many are buffered (default 5000). */
  maxBuffer?: number;
  /** Raw rows older than this are folded into rollups (default 7 days). */
  rawRetentionMs?: number;
  /** Rollup bucket width (default 5 min). */
  rollupMs?: number;
  /** Rollups older than this are deleted (default 90 days). */
  rollupRetentionMs?: number;
  /** Largest answer of one query, in points (default 200,000). */
  maxPoints?: number;
}

const DAY = 86_400_000;

// Per-row value of each aggregation (a row may stand for n merged points; `value` is their sum).
const ROW_EXPR: Record<Agg, string> = {
  sum: 'value', avg: 'value / n', min: 'COALESCE(vmin, value)', max: 'COALESCE(vmax, value)', count: 'n',
  last: 'value / n', p50: 'value / n', p95: 'value / n', p99: 'value / n',
};
const BUCKET_EXPR: Partial<Record<Agg, string>> = {
  sum: 'SUM(value)', avg: 'SUM(value) / SUM(n)', min: 'MIN(COALESCE(vmin, value))', max: 'MAX(COALESCE(vmax, value))', count: 'SUM(n)',
};
const DENSE = new Set<Agg>(['sum', 'count']);

/**
 * `(agent, ts, key, value)` points in sqlite. Writes are buffered and land in one transaction every
 * ~250 ms (or every `maxBuffer` points); every read flushes first, so a caller reads its own writes.
 */
export class StatsStore {
  readonly maxPoints: number;
  private readonly now: () => number;
  private readonly flushMs: number;
  private readonly maxBuffer: number;
  private readonly o: Required<Pick<StatsStoreOptions, 'rawRetentionMs' | 'rollupMs' | 'rollupRetentionMs'>>;
  private buffer: (string | number)[][] = [];
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly okAgents = new Set<string>();
  private readonly okKeys = new Set<string>();
  private readonly insert: Database.Statement;
  private readonly writeTx: (rows: (string | number)[][]) => void;
  private readonly stmts = new Map<string, Database.Statement>();

  constructor(private readonly db: DB, o: StatsStoreOptions = {}) {
    this.now = o.now ?? Date.now;
    this.flushMs = o.flushMs ?? 250;
    this.maxBuffer = o.maxBuffer ?? 5000;
    this.maxPoints = o.maxPoints ?? 200_000;
    this.o = { rawRetentionMs: o.rawRetentionMs ?? 7 * DAY, rollupMs: o.rollupMs ?? 300_000, rollupRetentionMs: o.rollupRetentionMs ?? 90 * DAY };
    if (!(this.o.rollupMs > 0)) throw new HyperhiveError('bad_request', 'rollupMs must be positive');
    // Two points of one series in the same millisecond become one row of n = 2 (see migrations.ts).
    this.insert = db.prepare(`INSERT INTO stats (agent, key, ts, value) VALUES (?, ?, ?, ?)
      ON CONFLICT (agent, key, ts) DO UPDATE SET value = value + excluded.value, n = n + 1,
      vmin = MIN(COALESCE(vmin, value), excluded.value), vmax = MAX(COALESCE(vmax, value), excluded.value)`);
    this.writeTx = db.transaction((rows: (string | number)[][]) => { for (const r of rows) this.insert.run(r); });
  }

  private stmt(sql: string): Database.Statement {
    let s = this.stmts.get(sql);
    if (!s) { s = this.db.prepare(sql); this.stmts.set(sql, s); }
    return s;
  }

  /** Buffers one point; throws on a bad agent, key or value (nothing is buffered then). */
  record(agent: string, key: string, value: number, ts: number = this.now()): void {
    if (!this.okAgents.has(agent)) { assertStatsAgent(agent); this.okAgents.add(agent); }
    if (!this.okKeys.has(key)) {
      assertKey(key);
      if (COMPUTED.has(key)) throw new HyperhiveError('bad_request', `${key} is computed on query and cannot be recorded`);
      this.okKeys.add(key);
    }
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new HyperhiveError('bad_request', `value of ${key} must be a finite number, got ${String(value)}`);
    if (!Number.isSafeInteger(ts) || ts < 0) throw new HyperhiveError('bad_request', `ts of ${key} must be ms since the epoch, got ${String(ts)}`);
    if (this.closed) throw new HyperhiveError('conflict', 'the stats store is closed');
    this.buffer.push([agent, key, ts, value]);
    if (this.buffer.length >= this.maxBuffer) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => { this.timer = null; try { this.flush(); } catch { /* retried on the next write or read */ } }, this.flushMs);
      this.timer.unref();
    }
  }

  /** Writes everything buffered in one transaction; returns how many points. */
  flush(): number {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    if (!this.buffer.length) return 0;
    const rows = this.buffer;
    this.buffer = [];
    try { this.writeTx(rows); } catch (e) { this.buffer = rows.concat(this.buffer); throw e; }
    return rows.length;
  }

  get buffered(): number { return this.buffer.length; }

  /** One series, points oldest first. Empty buckets of sum/count series are 0; of others, absent. */
  query(q: SeriesQuery): Series {
    this.flush();
    const info = keyInfo(q.key);
    const agg = q.agg ?? info.agg;
    const base = { agent: q.agent, key: q.key, agg, step: q.step, since: q.since, until: q.until, unit: info.unit };
    if (q.key === 'since_last_turn_ms') return { ...base, points: this.sinceLastTurn(q) };
    const span = q.until - q.since;
    if (q.step > 0 && Math.ceil(span / q.step) > this.maxPoints) {
      throw new HyperhiveError('bad_request', `step ${q.step} ms over ${span} ms gives more than ${this.maxPoints} points; use a larger step`);
    }
    const args = [q.agent, q.key, q.since, q.until];
    const where = 'WHERE agent = ? AND key = ? AND ts >= ? AND ts < ?';
    let points: Point[];
    if (q.step <= 0) {
      points = this.jsonPoints(`SELECT ts AS x, ${ROW_EXPR[agg]} AS y FROM stats ${where} ORDER BY ts LIMIT ${this.maxPoints + 1}`, args);
      if (points.length > this.maxPoints) throw new HyperhiveError('bad_request', `more than ${this.maxPoints} points between since and until; give a step (bucket width in ms) or a shorter range`);
      return { ...base, points };
    }
    const step = q.step;
    if (BUCKET_EXPR[agg]) {
      points = this.jsonPoints(`SELECT ts - ts % ${step} AS x, ${BUCKET_EXPR[agg]} AS y FROM stats ${where} GROUP BY x ORDER BY x`, args);
    } else if (agg === 'last') {
      // SQLite's bare-column rule: with MAX(ts), value/n comes from the row holding that maximum.
      points = this.jsonPoints(`SELECT b AS x, v AS y FROM (SELECT ts - ts % ${step} AS b, MAX(ts), value / n AS v FROM stats ${where} GROUP BY b ORDER BY b)`, args);
    } else {
      const text = this.stmt(`SELECT json_group_array(json_array(ts, value / n, n)) FROM (SELECT ts, value, n FROM stats ${where} ORDER BY ts)`).pluck().get(...args) as string;
      const rows = JSON.parse(text) as [number, number, number][];
      points = bucketPercentiles(rows, step, agg === 'p50' ? 0.5 : agg === 'p95' ? 0.95 : 0.99);
    }
    if (DENSE.has(agg)) points = densify(points, q.since, q.until, step);
    return { ...base, points };
  }

  /**
   * Rows (x, y) of `inner` as points. SQLite builds one JSON text and JSON.parse makes the arrays:
   * about 3× cheaper than better-sqlite3 handing out a row array per point, because epoch-ms
   * timestamps are not small integers and each would otherwise be boxed on its own.
   */
  private jsonPoints(inner: string, args: (string | number)[]): Point[] {
    const text = this.stmt(`SELECT json_group_array(json_array(x, y)) FROM (${inner})`).pluck().get(...args) as string;
    return JSON.parse(text) as Point[];
  }

  /** Keys with at least one point for `agent` in [since, until), sorted (a skip scan over the primary key). */
  keys(agent: string, since: number, until: number): string[] {
    this.flush();
    const next = this.stmt('SELECT key FROM stats WHERE agent = ? AND key > ? ORDER BY agent, key LIMIT 1').pluck();
    const any = this.stmt('SELECT 1 FROM stats WHERE agent = ? AND key = ? AND ts >= ? AND ts < ? LIMIT 1').pluck();
    const out: string[] = [];
    for (let k = next.get(agent, '') as string | undefined; k !== undefined; k = next.get(agent, k) as string | undefined) {
      if (any.get(agent, k, since, until)) out.push(k);
    }
    return out;
  }

  /** The newest point of a series at or before `before` (default: any). */
  last(agent: string, key: string, before = Number.MAX_SAFE_INTEGER): { ts: number; value: number } | null {
    this.flush();
    const r = this.stmt('SELECT ts, value / n AS value FROM stats WHERE agent = ? AND key = ? AND ts <= ? ORDER BY ts DESC LIMIT 1').get(agent, key, before) as { ts: number; value: number } | undefined;
    return r ?? null;
  }

  /** Agents (and '*') that have any point. */
  agents(): string[] {
    this.flush();
    const next = this.stmt('SELECT agent FROM stats WHERE agent > ? ORDER BY agent LIMIT 1').pluck();
    const out: string[] = [];
    for (let a = next.get('') as string | undefined; a !== undefined; a = next.get(a) as string | undefined) out.push(a);
    return out;
  }

  private sinceLastTurn(q: SeriesQuery): Point[] {
    const turns = (this.stmt('SELECT ts FROM stats WHERE agent = ? AND key = \'turns\' AND ts >= ? AND ts < ? ORDER BY ts').pluck().all(q.agent, q.since, q.until) as number[]);
    let prev = this.last(q.agent, 'turns', q.since - 1)?.ts ?? null;
    // One point per bucket (at its start): the time from the last turn before the bucket's end to that end.
    const buckets: [number, number][] = [];
    if (q.step > 0) {
      if (Math.ceil((q.until - q.since) / q.step) > this.maxPoints) throw new HyperhiveError('bad_request', `step ${q.step} ms gives more than ${this.maxPoints} points; use a larger step`);
      for (let b = q.since - (q.since % q.step); b < q.until; b += q.step) buckets.push([b, Math.min(b + q.step, q.until, this.now())]);
    } else {
      const t = Math.min(q.until, this.now());
      buckets.push([t, t]);
    }
    const out: Point[] = [];
    let i = 0;
    for (const [b, e] of buckets) {
      while (i < turns.length && turns[i]! < e) prev = turns[i++]!;
      if (prev !== null && e >= prev) out.push([b, e - prev]);
    }
    return out;
  }

  /**
   * Retention: raw rows older than rawRetentionMs become rollups of rollupMs buckets (sum, count,
   * min, max kept), rollups older than rollupRetentionMs are deleted. One transaction.
   */
  maintain(now: number = this.now()): { rolledUp: number; rollups: number; deleted: number } {
    this.flush();
    const R = this.o.rollupMs;
    const cutoff = Math.floor((now - this.o.rawRetentionMs) / R) * R;
    const keepRollups = now - this.o.rollupRetentionMs;
    return this.db.transaction(() => {
      this.db.exec('CREATE TEMP TABLE IF NOT EXISTS stats_roll (agent TEXT, key TEXT, ts INTEGER, value REAL, n INTEGER, vmin REAL, vmax REAL)');
      const rollups = this.stmt(`INSERT INTO temp.stats_roll SELECT agent, key, ts - ts % ${R} AS b, SUM(value), SUM(n), MIN(COALESCE(vmin, value)), MAX(COALESCE(vmax, value))
        FROM stats WHERE res = 0 AND ts < ? GROUP BY agent, key, b`).run(cutoff).changes;
      const rolledUp = this.stmt('DELETE FROM stats WHERE res = 0 AND ts < ?').run(cutoff).changes;
      // A bucket split over two runs merges into the row the first run wrote.
      this.stmt(`INSERT INTO stats (agent, key, ts, value, n, vmin, vmax, res) SELECT agent, key, ts, value, n, vmin, vmax, ${R} FROM temp.stats_roll WHERE true
        ON CONFLICT (agent, key, ts) DO UPDATE SET value = value + excluded.value, n = n + excluded.n,
        vmin = MIN(COALESCE(vmin, value), excluded.vmin), vmax = MAX(COALESCE(vmax, value), excluded.vmax), res = MAX(res, excluded.res)`).run();
      this.db.exec('DELETE FROM temp.stats_roll');
      const deleted = this.stmt('DELETE FROM stats WHERE res > 0 AND ts < ?').run(keepRollups).changes;
      return { rolledUp, rollups, deleted };
    })();
  }

  /** Deletes every point of an agent (purge). */
  forget(agent: string): number {
    this.flush();
    return this.stmt('DELETE FROM stats WHERE agent = ?').run(agent).changes;
  }

  /** Flushes and refuses further writes. */
  close(): void {
    try { this.flush(); } finally { this.closed = true; }
  }
}

function densify(points: Point[], since: number, until: number, step: number): Point[] {
  const out: Point[] = [];
  let i = 0;
  for (let b = since - (since % step); b < until; b += step) {
    if (i < points.length && points[i]![0] === b) out.push(points[i++]!);
    else out.push([b, 0]);
  }
  return out;
}
