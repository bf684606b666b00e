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

const N = 20_000;
const BODY = JSON.stringify({ text: 'please review the change to prompt.md and tell me what you think', n: 0 });

function freshDb(dir: string, name: string): DB {
  return openDb(path.join(dir, `${name}.db`));
}

/** Raw better-sqlite3 with the same pragmas: one autocommit insert, then a select of that row, per message. */
function rawInsertSelect(db: DB, n: number): number {
  db.exec('CREATE TABLE raw (id INTEGER PRIMARY KEY, recipient TEXT NOT NULL, body TEXT NOT NULL)');
  const ins = db.prepare('INSERT INTO raw (recipient, body) VALUES (?, ?)');
  const sel = db.prepare('SELECT id, recipient, body FROM raw WHERE id = ?');
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const id = ins.run('alice', BODY).lastInsertRowid;
    if (!sel.get(id)) throw new Error('raw select lost a row');
  }
  return n / ((performance.now() - t0) / 1000);
}

/** Strict ping-pong: every message is its own durable send and its own recv (the worst case: no batching). */
async function pingPong(bus: Bus, n: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    bus.send({ from: 'manager', to: 'alice', body: BODY });
    const got = await bus.recv('alice', { max: 1 });
    if (got.length !== 1) throw new Error('ping-pong lost a message');
  }
  await bus.recv('alice'); // acks the last one
  return n / ((performance.now() - t0) / 1000);
}

/**
 * `recipients` consumers long-poll recv while one producer sends round-robin in bursts of 100,
 * yielding between bursts; done when every message has been received and acked.
 */
async function streaming(bus: Bus, n: number, recipients: number): Promise<number> {
  const names = Array.from({ length: recipients }, (_, i) => `agent-${i}`);
  const perRecipient = Math.floor(n / recipients);
  const total = perRecipient * recipients;
  const t0 = performance.now();
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
  return total / ((performance.now() - t0) / 1000);
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

export async function benchBus(report: Report): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hh-bench-bus-'));
  try {
    const rawDb = freshDb(dir, 'raw');
    rawInsertSelect(rawDb, 2000); // warm-up (page cache, statement JIT)
    rawDb.exec('DROP TABLE raw');
    const raw = rawInsertSelect(rawDb, N);
    rawDb.close();
    report('raw better-sqlite3 insert+select', raw, 'msg/s', 'autocommit insert + select by id, same pragmas (WAL, synchronous=NORMAL)');

    const db1 = freshDb(dir, 'pingpong');
    const b1 = new Bus(db1);
    await pingPong(b1, 2000);
    const pp = await pingPong(b1, N);
    report('bus send+recv 1 recipient, 1:1', pp, 'msg/s', `every message its own send and recv; ${(pp / raw).toFixed(2)}× raw`);
    b1.close(); db1.close();

    const db2 = freshDb(dir, 'stream1');
    const b2 = new Bus(db2);
    const s1 = await streaming(b2, N, 1);
    report('bus send+recv 1 recipient, streaming', s1, 'msg/s', `long-poll consumer, producer bursts of 100; ${(s1 / raw).toFixed(2)}× raw`);
    b2.close(); db2.close();

    const db3 = freshDb(dir, 'stream50');
    const b3 = new Bus(db3);
    const s50 = await streaming(b3, N, 50);
    report('bus send+recv 50 recipients, streaming', s50, 'msg/s', `50 long-poll consumers; ${(s50 / raw).toFixed(2)}× raw`);
    b3.close(); db3.close();

    const db4 = freshDb(dir, 'wake');
    const b4 = new Bus(db4);
    await wakeLatency(b4, 200);
    const lat = await wakeLatency(b4, 2000);
    report('bus recv wake-up latency p50', lat.p50 * 1000, 'µs', 'send() called → waiting recv resolved');
    report('bus recv wake-up latency p99', lat.p99 * 1000, 'µs');
    b4.close(); db4.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  await benchBus((name, value, unit, note) => {
    console.log(`${name.padEnd(42)} ${value.toFixed(value < 100 ? 1 : 0).padStart(10)} ${unit}${note ? `  (${note})` : ''}`);
  });
}
