import test from 'ava';
import { parseDuration, parseStatsParams, parseTime } from '../../controller/stats/params.ts';

const NOW = 1_700_000_000_000;

test('defaults: the last hour, raw rows, the key\'s own aggregation', (t) => {
  t.deepEqual(parseStatsParams({ agent: 'alice' }, NOW), { agent: 'alice', key: null, since: NOW + 1 - 3_600_000, until: NOW + 1, step: 0, agg: null });
});

test('times: ms, ISO dates, durations before now; steps: ms or units', (t) => {
  const p = parseStatsParams({ agent: '*', key: 'approvals_pending', since: '-24h', until: '2023-11-14T22:13:20Z', step: '1m', agg: 'max' }, NOW);
  t.is(p.since, NOW - 86_400_000);
  t.is(p.until, NOW);
  t.is(p.step, 60_000);
  t.is(p.agg, 'max');
  t.is(parseDuration('1500', 'step'), 1500);
  t.is(parseDuration('2d', 'step'), 172_800_000);
  t.is(parseTime('123', 'since', NOW), 123);
});

test('bad parameters are refused with the parameter named', (t) => {
  const bad = (q: Record<string, unknown>, re: RegExp) => t.throws(() => parseStatsParams(q, NOW), { message: re });
  bad({}, /^agent: required/);
  bad({ agent: 'Not An Agent' }, /^agent: invalid agent name/);
  bad({ agent: 'operator' }, /^agent: .*reserved/);
  bad({ agent: 'alice', key: 'DROP TABLE' }, /^key: /);
  bad({ agent: 'alice', since: 'yesterday' }, /^since: expected ms/);
  bad({ agent: 'alice', since: '2000', until: '1000' }, /^since: must be before until/);
  bad({ agent: 'alice', step: '5 minutes' }, /^step: expected a duration/);
  bad({ agent: 'alice', step: '999d' }, /^step: at most/);
  bad({ agent: 'alice', agg: 'median' }, /^agg: one of sum, avg/);
  bad({ agent: ['alice', 'bob'] }, /^agent: given more than once/);
  bad({ agent: 'alice', limit: '5' }, /^limit: unknown parameter/);
  const e = t.throws(() => parseStatsParams({ agent: 'alice', step: 'x' }, NOW));
  t.is((e as unknown as { status: number }).status, 400);
});
