import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb, type DB } from '../../controller/db/open.ts';
import { Bus, type BusMessage, type BusOptions } from '../../controller/bus/index.ts';
import { HyperhiveError } from '../../controller/errors.ts';
import { waitFor } from '../helpers/wait.ts';

const dirs: string[] = [];
test.after.always(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

function fresh(options: BusOptions = {}): { db: DB; bus: Bus; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'hh-bus-'));
  dirs.push(dir);
  const file = join(dir, 'hyperhive.db');
  const db = openDb(file);
  return { db, bus: new Bus(db, options), file };
}

const bodies = (ms: BusMessage[]) => ms.map((m) => m.body);

test('send stores the message and returns it; recv returns it in order with sender, kind and times', async (t) => {
  const { bus } = fresh({ now: () => 1000 });
  const a = bus.send({ from: 'manager', to: 'alice', body: 'one' });
  const b = bus.send({ from: 'operator', to: 'alice', kind: 'question', body: 'two' });
  t.deepEqual(a, { id: a.id, from: 'manager', to: 'alice', kind: 'message', body: 'one', createdAt: 1000, deliveredAt: null, deliveries: 0, ackedAt: null });
  t.true(b.id > a.id);
  const got = await bus.recv('alice');
  t.deepEqual(bodies(got), ['one', 'two']);
  t.is(got[1]!.kind, 'question');
  t.is(got[1]!.from, 'operator');
  t.is(got[0]!.deliveredAt, 1000);
  t.is(got[0]!.deliveries, 1);
});

test('messages keep their order per recipient across many sends and batches', async (t) => {
  const { bus } = fresh();
  for (let i = 0; i < 250; i++) bus.send({ from: 'system', to: 'alice', body: `m${i}` });
  const seen: string[] = [];
  for (;;) {
    const got = await bus.recv('alice', { max: 40 });
    if (got.length === 0) break;
    t.true(got.length <= 40);
    seen.push(...bodies(got));
  }
  t.deepEqual(seen, Array.from({ length: 250 }, (_, i) => `m${i}`));
});

test('recipients are isolated: nobody receives another mailbox\'s messages', async (t) => {
  const { bus } = fresh();
  bus.send({ from: 'manager', to: 'alice', body: 'for alice' });
  bus.send({ from: 'manager', to: 'bob', body: 'for bob' });
  bus.send({ from: 'alice', to: 'operator', body: 'for operator' });
  t.deepEqual(bodies(await bus.recv('bob')), ['for bob']);
  t.deepEqual(bodies(await bus.recv('carol')), []);
  t.deepEqual(bodies(await bus.recv('operator')), ['for operator']);
  t.deepEqual(bodies(await bus.recv('alice')), ['for alice']);
  t.is(bus.depth('manager'), 0);
});

test('a message stays un-acked until the recipient\'s next recv, which acks it', async (t) => {
  const { db, bus } = fresh({ now: () => 5000 });
  bus.send({ from: 'manager', to: 'alice', body: 'x' });
  const [m] = await bus.recv('alice');
  t.is(m!.ackedAt, null);
  t.is(bus.depth('alice'), 1, 'delivered but not acked still counts');
  t.is(bus.get(m!.id)!.ackedAt, null);
  t.deepEqual(await bus.recv('alice'), [], 'not handed out twice by the same bus');
  t.is(bus.get(m!.id)!.ackedAt, 5000);
  t.is(bus.depth('alice'), 0);
  t.is((db.prepare('SELECT COUNT(*) FROM bus_messages WHERE acked_at IS NULL').pluck().get() as number), 0);
});

test('what one controller handed out but never saw acked is redelivered after a restart', async (t) => {
  const { db, bus } = fresh();
  bus.send({ from: 'manager', to: 'alice', body: 'a' });
  bus.send({ from: 'manager', to: 'alice', body: 'b' });
  t.deepEqual(bodies(await bus.recv('alice')), ['a', 'b']);
  bus.close();
  const restarted = new Bus(db);
  const again = await restarted.recv('alice');
  t.deepEqual(bodies(again), ['a', 'b']);
  t.deepEqual(again.map((m) => m.deliveries), [2, 2]);
  t.deepEqual(await restarted.recv('alice'), []);
  t.is(restarted.depth('alice'), 0);
});

test('redeliver() makes a crashed turn\'s messages come again, in order, and wakes a waiting recv', async (t) => {
  const { bus } = fresh();
  bus.send({ from: 'manager', to: 'alice', body: 'a' });
  t.deepEqual(bodies(await bus.recv('alice')), ['a']);
  bus.send({ from: 'manager', to: 'alice', body: 'b' });
  t.is(bus.redeliver('alice'), 1, 'only the handed-out one needed resetting');
  t.deepEqual(bodies(await bus.recv('alice', { max: 1 })), ['a']);
  t.deepEqual(bodies(await bus.recv('alice')), ['b']);
  // Two recvs waiting: the first takes 'c'; redelivering (its turn crashed) hands 'c' to the other at once.
  const ac = new AbortController();
  const w1 = bus.recv('alice', { waitMs: 60_000, signal: ac.signal });
  const w2 = bus.recv('alice', { waitMs: 60_000, signal: ac.signal });
  await waitFor('2 recv(s) waiting for alice', () => bus.waiting('alice') === 2);
  bus.send({ from: 'manager', to: 'alice', body: 'c' });
  const first = await Promise.race([w1, w2]);
  t.deepEqual(bodies(first), ['c']);
  t.is(bus.waiting('alice'), 1);
  t.is(bus.redeliver('alice'), 1);
  const both = await Promise.all([w1, w2]);
  t.deepEqual(both.map(bodies), [['c'], ['c']]);
  t.is(bus.list({ recipient: 'alice' }).at(-1)!.deliveries, 2);
});

test('ack(recipient, upTo) marks the operator\'s inbox read up to an id; ack(recipient) acks what was handed out', async (t) => {
  const { bus } = fresh();
  const ids = ['q1', 'q2', 'q3'].map((b) => bus.send({ from: 'manager', to: 'operator', kind: 'question', body: b }).id);
  t.is(bus.ack('operator', ids[1]!), 2);
  t.is(bus.depth('operator'), 1);
  t.deepEqual(bodies(bus.list({ recipient: 'operator', unacked: true })), ['q3']);
  t.deepEqual(bodies(await bus.recv('operator')), ['q3']);
  t.is(bus.ack('operator'), 1);
  t.is(bus.depth('operator'), 0);
});

test('recv long-polls and wakes when a message for that recipient is sent', async (t) => {
  const { bus } = fresh();
  const started = Date.now();
  const pending = bus.recv('alice', { waitMs: 120_000 });
  await waitFor('1 recv(s) waiting for alice', () => bus.waiting('alice') === 1);
  bus.send({ from: 'bob', to: 'carol', body: 'not for alice' });
  await new Promise((r) => setTimeout(r, 20));
  t.is(bus.waiting('alice'), 1, 'a message for someone else does not answer alice');
  bus.send({ from: 'bob', to: 'alice', body: 'wake up' });
  const got = await pending;
  t.deepEqual(bodies(got), ['wake up']);
  t.true(Date.now() - started < 60_000, 'answered long before the wait ran out');
  t.is(bus.waiting(), 0);
});

test('a waiting recv also finds a message written by another process (safety re-check, no wake-up)', async (t) => {
  const { bus, file } = fresh({ recheckMs: 20 });
  const other = new Bus(openDb(file)); // its sends wake only its own waiters, like another process's would
  const pending = bus.recv('alice', { waitMs: 120_000 });
  await waitFor('1 recv(s) waiting for alice', () => bus.waiting('alice') === 1);
  other.send({ from: 'operator', to: 'alice', body: 'from elsewhere' });
  t.deepEqual(bodies(await pending), ['from elsewhere']);
});

test('a burst of sends to 50 waiting recipients: each gets exactly its own messages, in order', async (t) => {
  const { bus } = fresh();
  const names = Array.from({ length: 50 }, (_, i) => `agent-${i}`);
  const waiting = names.map((n) => bus.recv(n, { waitMs: 120_000 }));
  await waitFor('50 recv(s) waiting', () => bus.waiting() === 50);
  for (let round = 0; round < 3; round++) for (const n of names) bus.send({ from: 'manager', to: n, body: `${n}#${round}` });
  const got = await Promise.all(waiting);
  got.forEach((ms, i) => t.deepEqual(bodies(ms), [0, 1, 2].map((r) => `${names[i]}#${r}`)));
  // Their next recvs, all in the same tick, ack those batches together.
  t.deepEqual((await Promise.all(names.map((n) => bus.recv(n)))).flat(), []);
  t.deepEqual(bus.depths(), {});
});

test('several waiting recvs for one recipient: the message goes to exactly one of them', async (t) => {
  const { bus } = fresh();
  const ac = new AbortController();
  const calls = [1, 2, 3].map(() => bus.recv('alice', { waitMs: 120_000, signal: ac.signal }).catch(() => 'aborted' as const));
  await waitFor('3 recv(s) waiting for alice', () => bus.waiting('alice') === 3);
  bus.send({ from: 'bob', to: 'alice', body: 'once' });
  await waitFor('2 recv(s) waiting for alice', () => bus.waiting('alice') === 2);
  ac.abort();
  const results = await Promise.all(calls);
  const delivered = results.filter((r) => r !== 'aborted') as BusMessage[][];
  t.is(delivered.length, 1);
  t.deepEqual(bodies(delivered[0]!), ['once']);
});

test('waitMs 0 answers at once; a short wait with nothing to read answers []', async (t) => {
  const { bus } = fresh();
  const t0 = Date.now();
  t.deepEqual(await bus.recv('alice', { waitMs: 0 }), []);
  t.deepEqual(await bus.recv('alice'), []);
  t.true(Date.now() - t0 < 5_000);
  t.is(bus.waiting(), 0);
  t.deepEqual(await bus.recv('alice', { waitMs: 30 }), []);
  t.is(bus.waiting(), 0);
});

test('a message already waiting is returned without waiting', async (t) => {
  const { bus } = fresh();
  bus.send({ from: 'bob', to: 'alice', body: 'ready' });
  t.deepEqual(bodies(await bus.recv('alice', { waitMs: 300_000 })), ['ready']);
});

test('aborting a waiting recv rejects with the signal\'s reason and hands nothing out', async (t) => {
  const { bus } = fresh();
  const ac = new AbortController();
  const pending = bus.recv('alice', { waitMs: 120_000, signal: ac.signal });
  await waitFor('1 recv(s) waiting for alice', () => bus.waiting('alice') === 1);
  ac.abort();
  const err = await t.throwsAsync(pending, { any: true });
  t.is((err as { name?: string }).name, 'AbortError');
  t.is(bus.waiting(), 0);
  const m = bus.send({ from: 'bob', to: 'alice', body: 'later' });
  t.is(bus.get(m.id)!.deliveries, 0);
  t.deepEqual(bodies(await bus.recv('alice')), ['later']);
});

test('a recv aborted in the same tick its message arrives gives the message back for the next recv', async (t) => {
  const { bus } = fresh();
  const ac = new AbortController();
  const pending = bus.recv('alice', { waitMs: 120_000, signal: ac.signal });
  await waitFor('1 recv(s) waiting for alice', () => bus.waiting('alice') === 1);
  bus.send({ from: 'bob', to: 'alice', body: 'do not lose me' });
  ac.abort(); // before the woken recv has run
  await t.throwsAsync(pending, { any: true });
  t.deepEqual(bodies(await bus.recv('alice')), ['do not lose me']);
  t.deepEqual(bodies(await bus.recv('alice')), []);
  t.is(bus.depth('alice'), 0);
});

test('an already aborted signal refuses the recv before anything is acked', async (t) => {
  const { bus } = fresh();
  bus.send({ from: 'bob', to: 'alice', body: 'x' });
  await bus.recv('alice');
  const reason = new Error('session closed');
  await t.throwsAsync(bus.recv('alice', { signal: AbortSignal.abort(reason) }), { is: reason });
  t.is(bus.list({ recipient: 'alice' })[0]!.ackedAt, null);
});

test('close() answers waiting recvs with [] and refuses later sends', async (t) => {
  const { bus } = fresh();
  const pending = bus.recv('alice', { waitMs: 120_000 });
  await waitFor('1 recv(s) waiting for alice', () => bus.waiting('alice') === 1);
  bus.close();
  t.deepEqual(await pending, []);
  const err = t.throws(() => bus.send({ from: 'bob', to: 'alice', body: 'x' }), { instanceOf: HyperhiveError });
  t.is(err!.code, 'conflict');
});

test('bodies over the limit are refused with too_large naming size and limit; the limit itself is fine', (t) => {
  const { bus } = fresh({ maxBodyBytes: 100 });
  t.is(bus.send({ from: 'bob', to: 'alice', body: 'x'.repeat(100) }).body.length, 100);
  const err = t.throws(() => bus.send({ from: 'bob', to: 'alice', body: 'x'.repeat(101) }), { instanceOf: HyperhiveError });
  t.is(err!.code, 'too_large');
  t.is(err!.status, 413);
  t.regex(err!.message, /101 bytes.*limit is 100 bytes/);
  // Counted in UTF-8 bytes: 51 × 'é' is 102 bytes.
  const e2 = t.throws(() => bus.send({ from: 'bob', to: 'alice', body: 'é'.repeat(51) }), { instanceOf: HyperhiveError });
  t.regex(e2!.message, /102 bytes/);
  t.is(bus.depth('alice'), 1, 'refused messages were not stored');
});

test('the default limit is 64 KiB', (t) => {
  const { bus } = fresh();
  t.is(bus.maxBodyBytes, 65_536);
  bus.send({ from: 'bob', to: 'alice', body: 'y'.repeat(65_536) });
  t.throws(() => bus.send({ from: 'bob', to: 'alice', body: 'y'.repeat(65_537) }), { message: /65537 bytes; the limit is 65536/ });
});

test('bad input is refused with a message naming the field, and stores nothing', async (t) => {
  const { bus } = fresh();
  const bad = (f: () => unknown, code: string, re: RegExp) => {
    const e = t.throws(f, { instanceOf: HyperhiveError });
    t.is(e!.code as string, code, e!.message);
    t.regex(e!.message, re);
  };
  bad(() => bus.send({ from: 'bob', to: '', body: 'x' }), 'bad_request', /^to is required/);
  bad(() => bus.send({ from: 'bob', to: undefined as unknown as string, body: 'x' }), 'bad_request', /^to is required/);
  bad(() => bus.send({ from: '', to: 'alice', body: 'x' }), 'bad_request', /^from is required/);
  bad(() => bus.send({ from: 'bob', to: 'Alice!', body: 'x' }), 'bad_request', /^to: invalid agent name/);
  bad(() => bus.send({ from: 'bob', to: 'policy', body: 'x' }), 'bad_request', /^to: .*reserved/);
  bad(() => bus.send({ from: 'bob', to: 'alice', body: 42 as unknown as string }), 'bad_request', /body must be a string, got number/);
  bad(() => bus.send({ from: 'bob', to: 'alice', body: null as unknown as string }), 'bad_request', /body must be a string, got null/);
  bad(() => bus.send({ from: 'bob', to: 'alice', body: '' }), 'bad_request', /body is empty/);
  bad(() => bus.send({ from: 'bob', to: 'alice', kind: 'Not A Kind', body: 'x' }), 'bad_request', /^kind "Not A Kind" is invalid/);
  bad(() => bus.send(null as unknown as { from: string; to: string; body: string }), 'bad_request', /send needs/);
  t.is(bus.list().length, 0);

  const badAsync = async (p: Promise<unknown>, re: RegExp) => {
    const e = await t.throwsAsync(p, { instanceOf: HyperhiveError });
    t.is(e!.code, 'bad_request');
    t.regex(e!.message, re);
  };
  await badAsync(bus.recv('alice', { waitMs: -1 }), /waitMs must be .* 0 to 300000, got -1/);
  await badAsync(bus.recv('alice', { waitMs: 300_001 }), /waitMs/);
  await badAsync(bus.recv('alice', { waitMs: 'soon' as unknown as number }), /waitMs .* got "soon"/);
  await badAsync(bus.recv('alice', { max: 0 }), /max must be an integer from 1/);
  await badAsync(bus.recv('alice', { max: 1.5 }), /max/);
  await badAsync(bus.recv(''), /recipient is required/);
  await badAsync(bus.recv('all'), /recipient: .*reserved/);
  t.throws(() => bus.list({ limit: 0 }), { message: /limit must be an integer from 1 to 1000/ });
  t.throws(() => bus.list({ since: -3 }), { message: /since/ });
  t.throws(() => bus.depth('NOPE'), { message: /recipient: invalid agent name/ });
  t.throws(() => new Bus(fresh().db, { maxBodyBytes: 0 }), { message: /maxBodyBytes/ });
});

test('operator, system and manager are mailboxes; kinds are free-form words', async (t) => {
  const { bus } = fresh();
  bus.send({ from: 'system', to: 'manager', kind: 'event', body: '{"approval":3,"status":"approved"}' });
  bus.send({ from: 'manager', to: 'operator', kind: 'question', body: 'may I spawn tester?' });
  bus.send({ from: 'operator', to: 'manager', kind: 'answer', body: 'yes' });
  t.deepEqual((await bus.recv('manager')).map((m) => `${m.from}/${m.kind}`), ['system/event', 'operator/answer']);
  t.deepEqual((await bus.recv('operator')).map((m) => m.kind), ['question']);
});

test('depth counts un-acked messages and depths lists every recipient that has some', async (t) => {
  const { bus } = fresh();
  t.deepEqual(bus.depths(), {});
  for (let i = 0; i < 3; i++) bus.send({ from: 'system', to: 'alice', body: `a${i}` });
  bus.send({ from: 'alice', to: 'operator', body: 'hello' });
  t.is(bus.depth('alice'), 3);
  t.is(bus.depth('bob'), 0);
  t.deepEqual(bus.depths(), { alice: 3, operator: 1 });
  await bus.recv('alice', { max: 2 });
  t.is(bus.depth('alice'), 3, 'handed out, not acked');
  await bus.recv('alice');
  t.is(bus.depth('alice'), 1, 'first two acked, third handed out');
  await bus.recv('alice');
  t.deepEqual(bus.depths(), { operator: 1 });
});

test('list filters by recipient and sender, pages with a since cursor, and otherwise shows the newest', (t) => {
  const { bus } = fresh();
  const sent = [
    bus.send({ from: 'manager', to: 'operator', body: '1' }),
    bus.send({ from: 'alice', to: 'operator', body: '2' }),
    bus.send({ from: 'manager', to: 'alice', body: '3' }),
    bus.send({ from: 'manager', to: 'operator', body: '4' }),
    bus.send({ from: 'alice', to: 'operator', body: '5' }),
  ];
  t.deepEqual(bodies(bus.list()), ['1', '2', '3', '4', '5']);
  t.deepEqual(bodies(bus.list({ recipient: 'operator' })), ['1', '2', '4', '5']);
  t.deepEqual(bodies(bus.list({ recipient: 'operator', from: 'manager' })), ['1', '4']);
  t.deepEqual(bodies(bus.list({ from: 'alice' })), ['2', '5']);
  t.deepEqual(bodies(bus.list({ limit: 2 })), ['4', '5'], 'newest two, oldest first');
  t.deepEqual(bodies(bus.list({ since: sent[1]!.id, limit: 2 })), ['3', '4'], 'cursor pages forward');
  t.deepEqual(bodies(bus.list({ recipient: 'operator', since: sent[3]!.id })), ['5']);
});

test('prune removes acked messages older than the retention and never an un-acked one; ids stay monotonic', async (t) => {
  let clock = 1_000_000;
  const { bus } = fresh({ retentionMs: 10_000, now: () => clock });
  bus.send({ from: 'system', to: 'alice', body: 'old' });
  bus.send({ from: 'system', to: 'bob', body: 'never read' });
  await bus.recv('alice');
  await bus.recv('alice'); // acks 'old' at 1_000_000
  clock += 5_000;
  const recent = bus.send({ from: 'system', to: 'alice', body: 'recent' });
  await bus.recv('alice');
  await bus.recv('alice'); // acks 'recent' at 1_005_000
  t.is(bus.prune(1_009_999), 0, 'nothing older than the retention yet');
  t.is(bus.prune(1_010_001), 1);
  t.deepEqual(bodies(bus.list()), ['never read', 'recent']);
  bus.send({ from: 'system', to: 'bob', body: 'newest' });
  await bus.recv('bob');
  await bus.recv('bob'); // acks 'never read' and 'newest'
  clock = 10_000_000;
  t.is(bus.prune(), 2, 'defaults to the bus clock');
  t.deepEqual(bodies(bus.list()), ['newest'], 'the newest row is kept, whatever its age, so ids are never reused');
  const next = bus.send({ from: 'system', to: 'alice', body: 'after prune' });
  t.true(next.id > recent.id + 1, 'a pruned id is never reused');
});

test('onMessage listeners see each committed message; unsubscribing and throwing listeners are harmless', (t) => {
  const errors: unknown[] = [];
  const { bus } = fresh({ onListenerError: (e) => errors.push(e) });
  const seen: string[] = [];
  const off = bus.onMessage((m) => seen.push(`${m.to}:${m.body}:${bus.get(m.id) ? 'stored' : 'missing'}`));
  bus.onMessage(() => { throw new Error('bad listener'); });
  bus.send({ from: 'system', to: 'alice', body: 'a' });
  off();
  bus.send({ from: 'system', to: 'alice', body: 'b' });
  t.deepEqual(seen, ['alice:a:stored']);
  t.is(errors.length, 2);
  t.is(bus.depth('alice'), 2);
});

test('the migration applies once: reopening the same file keeps the messages', async (t) => {
  const { db, bus, file } = fresh();
  bus.send({ from: 'system', to: 'alice', body: 'kept' });
  db.close();
  const db2 = openDb(file);
  t.is(db2.prepare("SELECT COUNT(*) FROM migrations WHERE name = 'bus-1'").pluck().get(), 1);
  t.deepEqual(bodies(await new Bus(db2).recv('alice')), ['kept']);
  db2.close();
});
