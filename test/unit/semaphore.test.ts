import test from 'ava';
import { Semaphore } from '../../controller/semaphore.ts';

test('at most n at once, the rest in order; a failure frees its slot', async (t) => {
  const l = new Semaphore(2);
  let active = 0; let peak = 0; const order: number[] = [];
  const gates: (() => void)[] = [];
  const task = (i: number) => l.run(async () => {
    active += 1; peak = Math.max(peak, active); order.push(i);
    await new Promise<void>((r) => gates.push(r));
    active -= 1;
    if (i === 1) throw new Error('boom');
    return i;
  });
  const all = [0, 1, 2, 3, 4].map((i) => task(i).catch((e: Error) => e.message));
  while (order.length < 5) { await new Promise((r) => setImmediate(r)); gates.shift()?.(); }
  while (gates.length) gates.shift()!();
  t.deepEqual(await Promise.all(all), [0, 'boom', 2, 3, 4]);
  t.is(peak, 2);
  t.deepEqual(order, [0, 1, 2, 3, 4]);
  t.is(l.running, 0);
  t.throws(() => new Semaphore(0));
});
