import test from 'ava';
import type { Approval } from '../../controller/approvals/store.ts';
import { HyperhiveError } from '../../controller/errors.ts';
import { orderQueue, parseQueueQuery } from '../../web/routes/pages/queue-query.ts';

const req = (id: number, agent: string, kind: Approval['kind'], createdAt: number) => ({ id, agent, kind, createdAt }) as Approval;
const Q = [req(1, 'zeta', 'change', 10), req(2, 'alpha', 'tool', 30), req(3, 'alpha', 'change', 20), req(4, 'mid', 'spawn', 20)];
const ids = (xs: Approval[]) => xs.map((a) => a.id);

test('the queue: oldest first by default (ties by id), by agent then age, descending, and by kind', (t) => {
  t.deepEqual(ids(orderQueue(Q, parseQueueQuery({}))), [1, 3, 4, 2]);
  t.deepEqual(ids(orderQueue(Q, parseQueueQuery({ qsort: '-age' }))), [2, 4, 3, 1]);
  t.deepEqual(ids(orderQueue(Q, parseQueueQuery({ qsort: 'agent' }))), [3, 2, 4, 1], 'alpha\'s oldest first');
  t.deepEqual(ids(orderQueue(Q, parseQueueQuery({ qsort: '-agent' }))), [1, 4, 3, 2]);
  t.deepEqual(ids(orderQueue(Q, parseQueueQuery({ qkind: 'change' }))), [1, 3]);
  t.deepEqual(ids(orderQueue(Q, parseQueueQuery({ qkind: 'revive' }))), []);
  t.deepEqual(ids(Q), [1, 2, 3, 4], 'the input is left as it was');
});

test('bad qsort or qkind: a 400 naming it and the allowed values', (t) => {
  const s = t.throws(() => parseQueueQuery({ qsort: 'size' }), { instanceOf: HyperhiveError });
  t.regex(s?.message ?? '', /^qsort must be one of age, -age, agent, -agent/);
  const k = t.throws(() => parseQueueQuery({ qkind: 'bogus' }), { instanceOf: HyperhiveError });
  t.regex(k?.message ?? '', /^qkind must be one of change, spawn, revive, destroy, tool/);
  t.is(k?.data.field, 'qkind');
});
