// P4: the bus in-process — durable send+recv throughput with 1 and with 50 recipients, recv wake-up
// latency, and raw better-sqlite3 insert+select on the same kind of db in the same run for scale.
// Run alone: `node --import tsx test/bench/bus.ts`.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setImmediate as tick } from 'node:timers/promises';
import { openDb, type DB } from '../../controller/db/open.ts';
import { Bus } from '../../controller/bus/index.ts';

type Report = (name: string, value: number, unit: string, note?: string) => void;

const N = 10_000;
const BODY = JSON.stringify({ text: 'please review the change to prompt.md and tell me what you think', n: 0 });

function freshDb(dir: string, name: string): DB {
  return openDb(path.join(dir, `${name}.db`));
}

/** Raw better-sqlite3 with the same pragmas: one autocommit insert, then a select of that row, per message. */
function rawInsertSelect(db: DB, n: number): void {
  db.exec('CREATE TABLE raw (id INTEGER PRIMARY KEY, recipient TEXT NOT NULL, body TEXT NOT NULL)');
  const ins = db.prepare('INSERT INTO raw (recipient, body) VALUES (?, ?)');
  const sel = db.prepare('SELECT id, recipient, body FROM raw WHERE id = ?');
  for (let i = 0; i < n; i++) {
    const id = ins.run('alice', BODY).lastInsertRowid;
    if (!sel.get(id)) throw new Error('raw select lost a row');
  }
}

/** Strict ping-pong: every message is its own durable send and its own recv (the worst case: no batching). */
async function pingPong(bus: Bus, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    bus.send({ from: 'manager', to: 'alice', body: BODY });
    const got = await bus.recv('alice', { max: 1 });
    if (got.length !== 1) throw new Error('ping-pong lost a message');
  }
  await bus.recv('alice'); // acks the last one
}

/**
 * `recipients` consumers long-poll recv while one producer sends round-robin in bursts of 100,
 * yielding between bursts; done when every message has been received and acked.
 */
async function streaming(bus: Bus, n: number, recipients: number): Promise<void> {
  const names = Array.from({ length: recipients }, (_, i) => `agent-${i}`);
  const perRecipient = Math.floor(n / recipients);
  const total = perRecipient * recipients;
  const consumers = names.map(async (name) => {
    let got = 0;
    let expect = 0;
    while (got < perRecipient) {
      const batch = await bus.recv(name, { waitMs: 30_000, max: 1000 });
      if (batch.length === 0) throw new Error(`${name} timed out after ${got} messages`);
      for (const m of batch) {
        if (m.body !== `${expect}`) throw new Error(`${name} got ${m.body} out of order, expected ${expect}`);
        expect++;
      }
      got += batch.length;
    }
    await bus.recv(name); // acks the last batch
  });
  for (let i = 0; i < total; i++) {
    bus.send({ from: 'manager', to: names[i % recipients]!, body: `${Math.floor(i / recipients)}` });
    if (i % 100 === 99) await tick();
  }
  await Promise.all(consumers);
}

/** Time from send() being called to a waiting recv's promise resolving with the message. */
async function wakeLatency(bus: Bus, n: number): Promise<{ p50: number; p99: number }> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const pending = bus.recv('waiter', { waitMs: 10_000 });
    await tick(); // let the recv settle into waiting
    if (bus.waiting('waiter') !== 1) throw new Error('recv is not waiting');
    const t0 = performance.now();
    bus.send({ from: 'system', to: 'waiter', body: BODY });
    const got = await pending;
    samples.push(performance.now() - t0);
    if (got.length !== 1) throw new Error('wake-up lost a message');
  }
  samples.sort((a, b) => a - b);
  const q = (p: number) => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))]!;
  return { p50: q(0.5), p99: q(0.99) };
}

/** Messages per second of wall time, and per second of this process's CPU time (steadier on a shared host). */
async function measure(n: number, fn: () => unknown): Promise<{ wall: number; cpu: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const wallS = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return { wall: n / wallS, cpu: n / ((c.user + c.system) / 1e6) };
}

export async function benchBus(report: Report): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hh-bench-bus-'));
  let dbs = 0;
  // Raw is measured right before each bus run, so a ratio compares like with like on a shared, busy host.
  const raw = () => {
    const db = freshDb(dir, `raw${dbs++}`);
    return measure(N, () => rawInsertSelect(db, N)).finally(() => db.close());
  };
  const withBus = async (fn: (bus: Bus) => Promise<void>) => {
    const db = freshDb(dir, `bus${dbs++}`);
    const bus = new Bus(db);
    try { return await measure(N, () => fn(bus)); } finally { bus.close(); db.close(); }
  };
  const ratio = (b: { wall: number; cpu: number }, r: { wall: number; cpu: number }) =>
    `${(b.wall / r.wall).toFixed(2)}× raw (by CPU time: ${Math.round(b.cpu)} msg/s, ${(b.cpu / r.cpu).toFixed(2)}× raw)`;
  try {
    await raw(); // warm-up: page cache, statement compilation
    await withBus((bus) => pingPong(bus, 2000));

    const raws: { wall: number; cpu: number }[] = [];
    const r1 = await raw(); raws.push(r1);
    const pp = await withBus((bus) => pingPong(bus, N));
    report('bus send+recv 1 recipient, 1:1', pp.wall, 'msg/s', `each message its own send and recv (2 commits); ${ratio(pp, r1)}`);

    const r2 = await raw(); raws.push(r2);
    const s1 = await withBus((bus) => streaming(bus, N, 1));
    report('bus send+recv 1 recipient, streaming', s1.wall, 'msg/s', `long-poll consumer, producer bursts of 100; ${ratio(s1, r2)}`);

    const r3 = await raw(); raws.push(r3);
    const s50 = await withBus((bus) => streaming(bus, N, 50));
    report('bus send+recv 50 recipients, streaming', s50.wall, 'msg/s', `50 long-poll consumers, ~2 messages per wake-up; ${ratio(s50, r3)}`);

    raws.sort((a, b) => a.wall - b.wall);
    report('raw better-sqlite3 insert+select', raws[1]!.wall, 'msg/s',
      `median of 3 (by CPU time: ${Math.round(raws[1]!.cpu)} msg/s); autocommit insert + select by id, same pragmas (WAL, synchronous=NORMAL)`);

    const latDb = freshDb(dir, 'wake');
    const latBus = new Bus(latDb);
    await wakeLatency(latBus, 200);
    const lat = await wakeLatency(latBus, 2000);
    latBus.close(); latDb.close();
    report('bus recv wake-up latency p50', lat.p50 * 1000, 'µs', 'send() called → waiting recv resolved with it');
    report('bus recv wake-up latency p99', lat.p99 * 1000, 'µs');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  await benchBus((name, value, unit, note) => {
    console.log(`${name.padEnd(42)} ${value.toFixed(value < 100 ? 1 : 0).padStart(10)} ${unit}${note ? `  (${note})` : ''}`);
  });
}
