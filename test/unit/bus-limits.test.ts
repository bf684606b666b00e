import test from 'ava';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate, openDb } from '../../controller/db/open.ts';
import { migrations } from '../../controller/db/migrations.ts';
import { Bus, busLimitsFromEnv, busQuotaReporter, DEFAULT_BUS_LIMITS, type BusLimits, type BusRefusal } from '../../controller/bus/index.ts';
import { inboxRefusal, OncePer, SendRateLimiter } from '../../controller/bus/limits.ts';
import { HyperhiveError } from '../../controller/errors.ts';

const dirs: string[] = [];
test.after.always(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'hh-bus-limits-')); dirs.push(d); return d; };

/** A clock the test moves by hand. */
function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => { t += ms; } };
}
const LIMITS: BusLimits = { inboxMaxMessages: 5, inboxMaxBytes: 1000, sendPerMinute: 60, sendBurst: 3 };

test('the send rate: a burst, then one per refill, per sender; the refusal names the limit and the wait', (t) => {
  const c = clock();
  const r = new SendRateLimiter({ sendPerMinute: 60, sendBurst: 3 }, c.now);
  t.is(r.take('alpha'), null);
  t.is(r.take('alpha'), null);
  t.is(r.take('alpha'), null);
  const no = r.take('alpha');
  t.is(no?.limit, 'send_rate');
  t.is(no?.error.code, 'rate_limited');
  t.is(no?.error.status, 429);
  t.is(no?.error.message, 'alpha is sending too fast: the limit is 60 messages a minute in bursts of 3 (HYPERHIVE_SEND_PER_MINUTE, HYPERHIVE_SEND_BURST); this message was not sent. Wait 1 s before sending again, and say more in fewer messages');
  t.is(r.take('beta'), null, 'another sender has its own bucket');
  c.advance(999);
  t.truthy(r.take('alpha'), 'not yet a whole token');
  c.advance(1);
  t.is(r.take('alpha'), null, 'one token a second at 60 a minute');
  t.truthy(r.take('alpha'));
  c.advance(3_600_000);
  for (let i = 0; i < 3; i++) t.is(r.take('alpha'), null, 'refilled up to the burst, no further');
  t.truthy(r.take('alpha'));
  const slow = new SendRateLimiter({ sendPerMinute: 2, sendBurst: 1 }, c.now);
  t.is(slow.take('x'), null);
  t.regex(slow.take('x')!.error.message, /Wait 30 s/);
  const off = new SendRateLimiter({ sendPerMinute: 0, sendBurst: 0 }, c.now);
  for (let i = 0; i < 100; i++) t.is(off.take('x'), null);
});

test('the inbox: depth and bytes, each a clear refusal naming the recipient and the limit', (t) => {
  t.is(inboxRefusal(LIMITS, 'beta', { messages: 4, bytes: 0 }, 10), null);
  const deep = inboxRefusal(LIMITS, 'beta', { messages: 5, bytes: 0 }, 10);
  t.is(deep?.limit, 'inbox_messages');
  t.is(deep?.error.code, 'inbox_full');
  t.is(deep?.error.status, 409);
  t.is(deep?.error.message, 'the inbox of beta is full: 5 unread messages, the limit is 5 (HYPERHIVE_INBOX_MAX_MESSAGES); this message was not sent. Wait for beta to read its messages (it does with recv), or tell the operator if it seems stuck');
  t.is(inboxRefusal(LIMITS, 'beta', { messages: 1, bytes: 990 }, 10), null, 'exactly at the byte limit fits');
  const big = inboxRefusal({ ...LIMITS, inboxMaxBytes: 16 * 1024 * 1024 }, 'beta', { messages: 1, bytes: 16 * 1024 * 1024 - 10 }, 65_536);
  t.is(big?.limit, 'inbox_bytes');
  t.regex(big!.error.message, /^the inbox of beta is full: 16 MB unread \(this message 0\.1 MB more\), the limit is 16 MB \(HYPERHIVE_INBOX_MAX_BYTES\)/);
  t.is(inboxRefusal({ ...LIMITS, inboxMaxMessages: 0, inboxMaxBytes: 0 }, 'beta', { messages: 1e6, bytes: 1e12 }, 10), null, '0 is off');
});

test('limits from the environment: defaults, overrides, 0 for off, junk refused naming the variable', (t) => {
  t.deepEqual(busLimitsFromEnv({}), DEFAULT_BUS_LIMITS);
  t.deepEqual(DEFAULT_BUS_LIMITS, { inboxMaxMessages: 1000, inboxMaxBytes: 16 * 1024 * 1024, sendPerMinute: 60, sendBurst: 20 });
  t.deepEqual(busLimitsFromEnv({ HYPERHIVE_INBOX_MAX_MESSAGES: '10', HYPERHIVE_INBOX_MAX_BYTES: '2048', HYPERHIVE_SEND_PER_MINUTE: '0', HYPERHIVE_SEND_BURST: '5' }),
    { inboxMaxMessages: 10, inboxMaxBytes: 2048, sendPerMinute: 0, sendBurst: 5 });
  for (const bad of ['-1', '1.5', 'many']) {
    t.throws(() => busLimitsFromEnv({ HYPERHIVE_SEND_BURST: bad }), { instanceOf: HyperhiveError, message: new RegExp(`^HYPERHIVE_SEND_BURST must be a whole number \\(0 turns the limit off\\), got "${bad.replace('.', '\\.')}"`) });
  }
});

test('once a minute per key, counting the quiet ones', (t) => {
  const c = clock();
  const o = new OncePer(60_000, c.now);
  t.is(o.check('a'), 0);
  t.is(o.check('a'), null);
  t.is(o.check('a'), null);
  t.is(o.check('b'), 0, 'another key is not held back');
  c.advance(59_999);
  t.is(o.check('a'), null);
  c.advance(1);
  t.is(o.check('a'), 3, 'three were kept quiet since the last one');
  t.is(o.check('a'), null);
});

test('the reporter: a bus_refused point for every refusal, a bus-quota warning once a minute per pair', (t) => {
  const c = clock();
  const points: [string, string, number][] = [];
  const warns: { agent: string | null; event: string; message: string; data?: Record<string, unknown> }[] = [];
  const report = busQuotaReporter({ warn: (agent, event, message, data) => warns.push({ agent, event, message, data }), record: (a, k, v) => points.push([a, k, v]), now: c.now });
  const refusal = (from: string, to: string): BusRefusal => ({ from, to, ...inboxRefusal(LIMITS, to, { messages: 5, bytes: 0 }, 1)! });
  for (let i = 0; i < 4; i++) report(refusal('alpha', 'beta'));
  report(refusal('alpha', 'gamma'));
  t.deepEqual(points, Array(5).fill(['alpha', 'bus_refused', 1]));
  t.is(warns.length, 2);
  t.is(warns[0]!.agent, 'alpha');
  t.is(warns[0]!.event, 'bus-quota');
  t.regex(warns[0]!.message, /^a message from alpha to beta was refused by the inbox depth limit \(the inbox of beta is full: 5 unread messages, the limit is 5/);
  t.deepEqual(warns[0]!.data, { from: 'alpha', to: 'beta', limit: 'inbox_messages', refusedQuietly: 0 });
  t.regex(warns[1]!.message, /from alpha to gamma/);
  c.advance(60_000);
  report(refusal('alpha', 'beta'));
  t.is(warns.length, 3);
  t.regex(warns[2]!.message, /; 3 more from alpha to beta were refused since the last such line/);
});

test('a Bus with limits: the inbox fills to its limit, the operator and system still get through and count, acks make room; the rate is per sender', async (t) => {
  const c = clock();
  const refused: BusRefusal[] = [];
  const db = openDb(join(tmp(), 'hyperhive.db'));
  t.teardown(() => db.close());
  const bus = new Bus(db, { now: c.now, limits: { ...LIMITS, sendBurst: 100 }, onRefused: (r) => refused.push(r) });
  for (let i = 0; i < 5; i++) bus.send({ from: 'alpha', to: 'beta', body: `m${i}` });
  const e = t.throws(() => bus.send({ from: 'alpha', to: 'beta', body: 'one too many' }), { instanceOf: HyperhiveError });
  t.is(e?.code, 'inbox_full');
  t.deepEqual(bus.inbox('beta'), { messages: 5, bytes: 10 }, 'the refused message was not stored');
  t.deepEqual(refused.map((r) => [r.from, r.to, r.limit]), [['alpha', 'beta', 'inbox_messages']]);
  bus.send({ from: 'operator', to: 'beta', body: 'stop looping' });
  bus.send({ from: 'system', to: 'beta', body: 'request #1 approved' });
  t.is(bus.depth('beta'), 7, 'operator and system get through, and count');
  t.throws(() => bus.send({ from: 'manager', to: 'beta', body: 'x' }), { code: 'inbox_full' } as never);
  const got = await bus.recv('beta', { max: 10 });
  t.is(got.length, 7);
  await bus.recv('beta'); // acks the batch
  t.is(bus.depth('beta'), 0);
  t.notThrows(() => bus.send({ from: 'alpha', to: 'beta', body: 'room again' }));

  // Bytes: 1000 at most.
  bus.send({ from: 'alpha', to: 'delta', body: 'x'.repeat(990) });
  t.throws(() => bus.send({ from: 'alpha', to: 'delta', body: 'é'.repeat(6) }), { code: 'inbox_full', message: /HYPERHIVE_INBOX_MAX_BYTES/ } as never);
  t.notThrows(() => bus.send({ from: 'alpha', to: 'delta', body: 'é'.repeat(5) }), 'ten bytes of UTF-8 fit');

  const rated = new Bus(db, { now: c.now, limits: { ...LIMITS, inboxMaxMessages: 0, inboxMaxBytes: 0 } });
  for (let i = 0; i < 3; i++) rated.send({ from: 'gamma', to: 'omega', body: 'hi' });
  t.throws(() => rated.send({ from: 'gamma', to: 'omega', body: 'hi' }), { code: 'rate_limited' } as never);
  for (let i = 0; i < 10; i++) rated.send({ from: 'operator', to: 'omega', body: 'always' });
  c.advance(1000);
  t.notThrows(() => rated.send({ from: 'gamma', to: 'omega', body: 'after a second' }));
  t.throws(() => new Bus(db, { limits: { ...LIMITS, sendBurst: -1 } }), { message: /sendBurst must be an integer/ });
});

test('bus-2 upgrades a database of bus-1: every stored message gets its byte count, the quota sees the old unread ones', (t) => {
  const file = join(tmp(), 'old.db');
  const old = new Database(file);
  old.exec('CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)');
  for (const m of migrations.filter((x) => x.name !== 'bus-2' && !x.name.startsWith('stats'))) {
    old.exec(m.sql);
    old.prepare('INSERT INTO migrations (name, applied_at) VALUES (?, ?)').run(m.name, 0);
  }
  const ins = old.prepare('INSERT INTO bus_messages (sender, recipient, kind, body, created_at, acked_at) VALUES (?, ?, ?, ?, ?, ?)');
  ins.run('alpha', 'beta', 'message', 'héllo', 1, null);
  ins.run('alpha', 'beta', 'message', 'read already', 1, 2);
  migrate(old);
  t.deepEqual(old.prepare('SELECT body, bytes FROM bus_messages ORDER BY id').all(), [{ body: 'héllo', bytes: 6 }, { body: 'read already', bytes: 12 }]);
  const bus = new Bus(old, { limits: LIMITS });
  t.deepEqual(bus.inbox('beta'), { messages: 1, bytes: 6 });
  const plan = old.prepare('EXPLAIN QUERY PLAN SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM bus_messages INDEXED BY bus_unacked WHERE recipient = ? AND acked_at IS NULL').all('beta') as { detail: string }[];
  t.regex(plan.map((p) => p.detail).join(' '), /COVERING INDEX bus_unacked/, 'the quota reads the index only, never the bodies');
  old.close();
});
