import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDb, type DB } from '../../controller/db/open.ts';
import { StatsStore } from '../../controller/stats/store.ts';
import { percentile } from '../../controller/stats/percentile.ts';

function fresh(t: { teardown(fn: () => void): void }): DB {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hh-stats-'));
  const db = openDb(path.join(dir, 'hyperhive.db'));
  t.teardown(() => { db.close(); fs.rmSync(dir, { recursive: true, force: true }); });
  return db;
}

const T0 = 1_700_000_000_000 - (1_700_000_000_000 % 3_600_000);

test('points are buffered, then written in one batch; reads flush first', (t) => {
  const db = fresh(t);
  const s = new StatsStore(db, { flushMs: 60_000, maxBuffer: 1000 });
  for (let i = 0; i < 10; i++) s.record('alice', 'turns', 1, T0 + i * 1000);
  t.is(s.buffered, 10);
  t.is((db.prepare('SELECT COUNT(*) FROM stats').pluck().get() as number), 0);
  const q = s.query({ agent: 'alice', key: 'turns', since: T0, until: T0 + 60_000, step: 0 });
  t.is(s.buffered, 0);
  t.is(q.points.length, 10);
  t.deepEqual(q.points[3], [T0 + 3000, 1]);
});

test('a full buffer flushes by itself; the timer flushes the rest', async (t) => {
  const db = fresh(t);
  const s = new StatsStore(db, { flushMs: 30, maxBuffer: 100 });
  for (let i = 0; i < 150; i++) s.record('alice', 'cost_usd', 0.5, T0 + i);
  t.is(db.prepare('SELECT COUNT(*) FROM stats').pluck().get() as number, 100);
  await new Promise((r) => setTimeout(r, 200));
  t.is(db.prepare('SELECT COUNT(*) FROM stats').pluck().get() as number, 150);
});

test('points of one series in the same millisecond merge (sum, count, min, max kept)', (t) => {
  const s = new StatsStore(fresh(t));
  s.record('alice', 'turn_duration_ms', 100, T0);
  s.record('alice', 'turn_duration_ms', 300, T0);
  s.record('alice', 'turn_duration_ms', 200, T0);
  const q = (agg: 'sum' | 'avg' | 'min' | 'max' | 'count') => s.query({ agent: 'alice', key: 'turn_duration_ms', since: T0, until: T0 + 1, step: 0, agg }).points;
  t.deepEqual(q('sum'), [[T0, 600]]);
  t.deepEqual(q('avg'), [[T0, 200]]);
  t.deepEqual(q('min'), [[T0, 100]]);
  t.deepEqual(q('max'), [[T0, 300]]);
  t.deepEqual(q('count'), [[T0, 3]]);
});

test('buckets: sum is dense (empty buckets are 0), max/avg/last sparse, percentiles per bucket', (t) => {
  const s = new StatsStore(fresh(t));
  // minute 0: 3 turns, minute 2: 1 turn
  for (const dt of [1000, 2000, 3000, 121_000]) s.record('bob', 'turns', 1, T0 + dt);
  const turns = s.query({ agent: 'bob', key: 'turns', since: T0, until: T0 + 4 * 60_000, step: 60_000 });
  t.is(turns.agg, 'sum');
  t.deepEqual(turns.points, [[T0, 3], [T0 + 60_000, 0], [T0 + 120_000, 1], [T0 + 180_000, 0]]);
  for (const [dt, v] of [[0, 2], [10_000, 5], [70_000, 1]] as const) s.record('bob', 'inbox_depth', v, T0 + dt);
  t.deepEqual(s.query({ agent: 'bob', key: 'inbox_depth', since: T0, until: T0 + 4 * 60_000, step: 60_000 }).points, [[T0, 5], [T0 + 60_000, 1]]);
  t.deepEqual(s.query({ agent: 'bob', key: 'inbox_depth', since: T0, until: T0 + 4 * 60_000, step: 60_000, agg: 'last' }).points, [[T0, 5], [T0 + 60_000, 1]]);
  t.deepEqual(s.query({ agent: 'bob', key: 'inbox_depth', since: T0, until: T0 + 4 * 60_000, step: 60_000, agg: 'avg' }).points, [[T0, 3.5], [T0 + 60_000, 1]]);
  for (let i = 1; i <= 100; i++) s.record('bob', 'turn_duration_ms', i * 10, T0 + i * 100);
  const p50 = s.query({ agent: 'bob', key: 'turn_duration_ms', since: T0, until: T0 + 60_000, step: 60_000, agg: 'p50' });
  const p95 = s.query({ agent: 'bob', key: 'turn_duration_ms', since: T0, until: T0 + 60_000, step: 60_000, agg: 'p95' });
  t.deepEqual(p50.points, [[T0, 500]]);
  t.deepEqual(p95.points, [[T0, 950]]);
});

test('series are kept apart by agent and key; the range is [since, until)', (t) => {
  const s = new StatsStore(fresh(t));
  s.record('alice', 'turns', 1, T0);
  s.record('bob', 'turns', 1, T0);
  s.record('alice', 'cost_usd', 2, T0);
  s.record('alice', 'turns', 1, T0 + 1000);
  t.deepEqual(s.query({ agent: 'alice', key: 'turns', since: T0, until: T0 + 1000, step: 0 }).points, [[T0, 1]]);
  t.deepEqual(s.keys('alice', T0, T0 + 10_000), ['cost_usd', 'turns']);
  t.deepEqual(s.keys('alice', T0 + 500, T0 + 10_000), ['turns']);
  t.deepEqual(s.agents(), ['alice', 'bob']);
  t.deepEqual(s.last('alice', 'turns'), { ts: T0 + 1000, value: 1 });
  t.is(s.last('carol', 'turns'), null);
});

test('since_last_turn_ms is computed from the turns', (t) => {
  let now = T0 + 10 * 60_000;
  const s = new StatsStore(fresh(t), { now: () => now });
  s.record('alice', 'turns', 1, T0 + 60_000);
  s.record('alice', 'turns', 1, T0 + 5 * 60_000);
  const one = s.query({ agent: 'alice', key: 'since_last_turn_ms', since: T0, until: now + 1, step: 0 });
  t.deepEqual(one.points, [[now, 5 * 60_000]]);
  const buckets = s.query({ agent: 'alice', key: 'since_last_turn_ms', since: T0, until: T0 + 6 * 60_000, step: 2 * 60_000 });
  // bucket ends: 2m (last turn 1m), 4m (1m), 6m (5m)
  t.deepEqual(buckets.points, [[T0, 60_000], [T0 + 120_000, 180_000], [T0 + 240_000, 60_000]]);
  t.throws(() => s.record('alice', 'since_last_turn_ms', 1), { message: /computed/ });
  now += 0;
});

test('bad points are refused and nothing is buffered', (t) => {
  const s = new StatsStore(fresh(t));
  t.throws(() => s.record('Bad Name', 'turns', 1), { message: /invalid agent name/ });
  t.throws(() => s.record('operator', 'turns', 1), { message: /reserved/ });
  t.throws(() => s.record('alice', 'Turns!', 1), { message: /key "Turns!" is invalid/ });
  t.throws(() => s.record('alice', 'turns', Number.NaN), { message: /finite/ });
  t.throws(() => s.record('alice', 'turns', 1, -5), { message: /ts of turns/ });
  t.is(s.buffered, 0);
  s.record('*', 'approvals_pending', 3, T0);
  t.is(s.buffered, 1);
});

test('too many points: a clear error asking for a step', (t) => {
  const s = new StatsStore(fresh(t), { maxPoints: 10 });
  for (let i = 0; i < 11; i++) s.record('alice', 'turns', 1, T0 + i);
  t.throws(() => s.query({ agent: 'alice', key: 'turns', since: T0, until: T0 + 100, step: 0 }), { message: /give a step/ });
  t.throws(() => s.query({ agent: 'alice', key: 'turns', since: T0, until: T0 + 100, step: 1 }), { message: /larger step/ });
  t.is(s.query({ agent: 'alice', key: 'turns', since: T0, until: T0 + 100, step: 50 }).points[0]![1], 11);
});

test('retention: old raw rows fold into rollups with the same sums; rollups expire', (t) => {
  const db = fresh(t);
  const DAY = 86_400_000;
  const s = new StatsStore(db, { rawRetentionMs: DAY, rollupMs: 300_000, rollupRetentionMs: 10 * DAY });
  // 3 days ago: 60 turns over 10 minutes with durations 1..60 s; today: 1 turn
  for (let i = 0; i < 60; i++) {
    s.record('alice', 'turns', 1, T0 + i * 10_000);
    s.record('alice', 'turn_duration_ms', (i + 1) * 1000, T0 + i * 10_000);
  }
  s.record('alice', 'turns', 1, T0 + 3 * DAY);
  const before = s.query({ agent: 'alice', key: 'turns', since: T0, until: T0 + DAY, step: 3_600_000 }).points[0];
  const r = s.maintain(T0 + 3 * DAY);
  t.is(r.rolledUp, 120);
  t.is(r.rollups, 4);
  t.deepEqual(s.query({ agent: 'alice', key: 'turns', since: T0, until: T0 + DAY, step: 3_600_000 }).points[0], before);
  t.deepEqual(s.query({ agent: 'alice', key: 'turns', since: T0, until: T0 + DAY, step: 0 }).points, [[T0, 30], [T0 + 300_000, 30]]);
  t.deepEqual(s.query({ agent: 'alice', key: 'turn_duration_ms', since: T0, until: T0 + DAY, step: 3_600_000, agg: 'max' }).points, [[T0, 60_000]]);
  t.deepEqual(s.query({ agent: 'alice', key: 'turn_duration_ms', since: T0, until: T0 + DAY, step: 3_600_000, agg: 'avg' }).points, [[T0, 30_500]]);
  // the recent raw row is untouched; running again changes nothing
  t.deepEqual(s.maintain(T0 + 3 * DAY), { rolledUp: 0, rollups: 0, deleted: 0 });
  t.is(s.query({ agent: 'alice', key: 'turns', since: T0 + 2 * DAY, until: T0 + 4 * DAY, step: 0 }).points.length, 1);
  const expired = s.maintain(T0 + 11 * DAY);
  t.is(expired.deleted, 4);
  t.is(expired.rolledUp, 1);
});

test('a bucket split over two maintenance runs merges into one rollup row', (t) => {
  const s = new StatsStore(fresh(t), { rawRetentionMs: 0, rollupMs: 300_000 });
  s.record('alice', 'turns', 1, T0 + 1000);
  s.maintain(T0 + 300_000);
  s.record('alice', 'turns', 1, T0 + 2000);
  s.maintain(T0 + 300_000);
  t.deepEqual(s.query({ agent: 'alice', key: 'turns', since: T0, until: T0 + 300_000, step: 0 }).points, [[T0, 2]]);
});

test('a closed store refuses writes after flushing', (t) => {
  const db = fresh(t);
  const s = new StatsStore(db, { flushMs: 60_000 });
  s.record('alice', 'turns', 1, T0);
  s.close();
  t.is(db.prepare('SELECT COUNT(*) FROM stats').pluck().get() as number, 1);
  t.throws(() => s.record('alice', 'turns', 1, T0), { message: /closed/ });
});

test('weighted nearest-rank percentile', (t) => {
  t.is(percentile([[5, 1], [1, 1], [3, 1]], 0.5), 3);
  t.is(percentile([[1, 9], [100, 1]], 0.95), 100);
  t.is(percentile([[1, 9], [100, 1]], 0.9), 1);
  t.true(Number.isNaN(percentile([], 0.5)));
});
