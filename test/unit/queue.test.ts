import test from 'ava';
import { KeyedQueue } from '../../controller/reconciler/queue.ts';

const tick = () => new Promise((r) => setTimeout(r, 5));

/** A worker that records the order of runs and holds each one until released. */
function recorder() {
  const order: string[] = [];
  const gates = new Map<string, () => void>();
  const worker = (k: string) => new Promise<void>((resolve) => { order.push(k); gates.set(k, () => { gates.delete(k); resolve(); }); });
  const release = async (k: string) => { for (let i = 0; i < 200 && !gates.has(k); i++) await tick(); gates.get(k)!(); await tick(); };
  return { order, worker, release, running: () => [...gates.keys()] };
}

test('urgent keys run before background ones, and an urgent enqueue moves a background key up', async (t) => {
  const r = recorder();
  const q = new KeyedQueue(r.worker, { concurrency: 1 });
  q.enqueue('busy');
  for (const k of ['b1', 'b2', 'b3']) q.enqueue(k, { background: true });
  q.enqueue('push');          // an event for an agent the resync did not list yet
  q.enqueue('b3');            // an event for one the resync already queued
  q.enqueue('push', { background: true }); // a later resync does not demote it
  t.deepEqual(q.pending, { urgent: 2, background: 2, running: 1 });
  for (const k of ['busy', 'push', 'b3', 'b1', 'b2']) await r.release(k);
  t.deepEqual(r.order, ['busy', 'push', 'b3', 'b1', 'b2']);
  await q.idle();
});

test('one run per key at a time; an enqueue during a run gives exactly one more run', async (t) => {
  const r = recorder();
  const q = new KeyedQueue(r.worker, { concurrency: 4 });
  q.enqueue('a');
  await tick();
  q.enqueue('a'); q.enqueue('a', { background: true }); q.enqueue('a');
  t.deepEqual(r.running(), ['a']);
  await r.release('a');
  t.deepEqual(r.order, ['a', 'a']);
  await r.release('a');
  await q.settled('a');
  t.deepEqual(r.order, ['a', 'a']);
});

test('exclusive waits for the running pass and holds the key; settled waits for both lanes', async (t) => {
  const r = recorder();
  const q = new KeyedQueue(r.worker, { concurrency: 2 });
  q.enqueue('a');
  await tick();
  let inside = false;
  const ex = q.exclusive('a', async () => { inside = true; t.deepEqual(r.running(), []); return 7; });
  await tick();
  t.false(inside, 'waits while the pass runs');
  await r.release('a');
  t.is(await ex, 7);
  // the exclusive operation owes the key one more pass
  await r.release('a');
  q.enqueue('x', { background: true });
  let settled = false;
  const s = q.settled('x').then(() => { settled = true; });
  await tick();
  t.false(settled);
  await r.release('x');
  await s;
  t.true(settled);
});
