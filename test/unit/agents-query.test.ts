import test from 'ava';
import { countFleet, parseAgentQuery, planListing, queryParams, type AgentSummary } from '../../controller/agents/query.ts';
import { HyperhiveError } from '../../controller/errors.ts';
import type { Condition } from '../../controller/reconciler/types.ts';

const ready: Condition[] = [{ type: 'Ready', status: 'True', reason: 'Running', message: '' }, { type: 'Stalled', status: 'False', reason: 'None', message: '' }];
const stalled = (reason: string): Condition[] => [{ type: 'Ready', status: 'False', reason, message: '' }, { type: 'Stalled', status: 'True', reason, message: 'x' }];
const reconciling: Condition[] = [{ type: 'Reconciling', status: 'True', reason: 'Applying', message: '' }];

function agent(name: string, o: Partial<AgentSummary> = {}): AgentSummary {
  return { name, state: 'active', suspended: false, createdAt: 0, updatedAt: 0, conditions: ready, ...o };
}

const FLEET: AgentSummary[] = [
  agent('alpha', { createdAt: 3, updatedAt: 30 }),
  agent('beta', { conditions: stalled('BuildFailed'), createdAt: 1, updatedAt: 10 }),
  agent('gamma', { conditions: stalled('CrashLoop'), suspended: true, createdAt: 2, updatedAt: 50 }),
  agent('delta', { conditions: reconciling, createdAt: 5, updatedAt: 20 }),
  agent('draft-one', { state: 'draft', conditions: [], createdAt: 4, updatedAt: 40 }),
  agent('gone', { state: 'kept', conditions: [], createdAt: 0, updatedAt: 60 }),
];
const names = (xs: AgentSummary[]) => xs.map((a) => a.name);
const plan = (raw: Record<string, string>) => planListing(FLEET, parseAgentQuery(raw));

test('no parameters: every agent but the kept ones, by name, unpaged', (t) => {
  const p = plan({});
  t.deepEqual(names(p.page), ['alpha', 'beta', 'delta', 'draft-one', 'gamma']);
  t.is(p.total, 5);
  t.true(parseAgentQuery({}).limit === null);
});

test('all=1 and state=kept bring the kept agents in', (t) => {
  t.deepEqual(names(plan({ all: '1' }).page), ['alpha', 'beta', 'delta', 'draft-one', 'gamma', 'gone']);
  t.deepEqual(names(plan({ state: 'kept' }).page), ['gone']);
  t.deepEqual(names(plan({ state: 'draft,kept' }).page), ['draft-one', 'gone']);
});

test('condition, reason, suspended and name filters combine', (t) => {
  t.deepEqual(names(plan({ condition: 'Stalled' }).page), ['beta', 'gamma']);
  t.deepEqual(names(plan({ condition: 'stalled', reason: 'BuildFailed' }).page), ['beta'], 'condition is matched without regard to case');
  t.deepEqual(names(plan({ reason: 'CrashLoop' }).page), ['gamma'], 'a reason alone matches any true condition');
  t.deepEqual(names(plan({ condition: 'Ready' }).page), ['alpha']);
  t.deepEqual(names(plan({ condition: 'Reconciling' }).page), ['delta']);
  t.deepEqual(names(plan({ suspended: '1' }).page), ['gamma']);
  t.deepEqual(names(plan({ suspended: '0', condition: 'Stalled' }).page), ['beta']);
  t.deepEqual(names(plan({ q: 'ta' }).page), ['beta', 'delta']);
  t.deepEqual(names(plan({ q: 'TA' }).page), ['beta', 'delta'], 'names are lower case: so is the search');
  t.deepEqual(names(plan({ condition: 'Ready', reason: 'BuildFailed' }).page), [], 'the reason must be the named condition\'s');
});

test('sort keys, descending, ties by name; offset and limit page after filtering; the total is before paging', (t) => {
  t.deepEqual(names(plan({ sort: 'created' }).page), ['beta', 'gamma', 'alpha', 'draft-one', 'delta']);
  t.deepEqual(names(plan({ sort: '-updated' }).page), ['gamma', 'draft-one', 'alpha', 'delta', 'beta']);
  t.deepEqual(names(plan({ sort: 'condition' }).page), ['beta', 'gamma', 'delta', 'alpha', 'draft-one'], 'problems first');
  t.deepEqual(names(plan({ sort: 'state' }).page), ['alpha', 'beta', 'delta', 'gamma', 'draft-one']);
  t.deepEqual(names(plan({ sort: '-name' }).page), ['gamma', 'draft-one', 'delta', 'beta', 'alpha']);
  const p = plan({ limit: '2', offset: '1' });
  t.deepEqual(names(p.page), ['beta', 'delta']);
  t.is(p.total, 5);
  t.deepEqual(names(plan({ limit: '2', offset: '4' }).page), ['gamma']);
  t.deepEqual(names(plan({ limit: '2', offset: '40' }).page), []);
  t.deepEqual(names(plan({ offset: '3' }).page), ['draft-one', 'gamma'], 'an offset without a limit: the rest');
});

test('counts cover the whole fleet whatever the filter, with stalled reasons', (t) => {
  const c = plan({ condition: 'Ready', limit: '1' }).counts;
  t.deepEqual(c, countFleet(FLEET));
  t.like(c, { total: 6, Ready: 1, Stalled: 2, Reconciling: 1, suspended: 1, active: 4, draft: 1, pending: 0, kept: 1 });
  t.deepEqual(c.stalledReasons, { BuildFailed: 1, CrashLoop: 1 });
});

test('bad values: a 400 naming the parameter and what it may be', (t) => {
  const cases: [Record<string, string | string[]>, string, RegExp][] = [
    [{ condition: 'Broken' }, 'condition', /condition must be one of Ready, Stalled, Reconciling, got "Broken"/],
    [{ state: 'active,zombie' }, 'state', /state must be one or more of active, draft, pending, kept.*"zombie"/],
    [{ suspended: 'yes' }, 'suspended', /suspended must be 1 or 0/],
    [{ sort: 'size' }, 'sort', /sort must be one of name, state, condition, created, updated/],
    [{ limit: '0' }, 'limit', /limit must be a decimal integer from 1 to 1000, got "0"/],
    [{ limit: '1001' }, 'limit', /from 1 to 1000/],
    [{ limit: '1e2' }, 'limit', /decimal integer/],
    [{ offset: '-1' }, 'offset', /offset must be a decimal integer/],
    [{ reason: 'Build Failed' }, 'reason', /reason must be a condition reason/],
    [{ q: 'a/b' }, 'q', /q must be a part of an agent name/],
    [{ condition: ['Ready', 'Stalled'] }, 'condition', /condition may be given once/],
  ];
  for (const [raw, field, re] of cases) {
    const e = t.throws(() => parseAgentQuery(raw), { instanceOf: HyperhiveError }, field);
    t.is(e?.code, 'bad_request', field);
    t.is(e?.data.field, field);
    t.regex(e?.message ?? '', re, field);
  }
});

test('queryParams writes back only what differs from the defaults, so page links keep the filter', (t) => {
  const q = parseAgentQuery({ condition: 'Stalled', reason: 'BuildFailed', q: 'be', sort: '-created', limit: '50', offset: '100', suspended: '0' });
  t.is(queryParams(q).toString(), 'condition=Stalled&reason=BuildFailed&suspended=0&q=be&sort=-created&limit=50&offset=100');
  t.is(queryParams(q, { offset: 0 }).toString(), 'condition=Stalled&reason=BuildFailed&suspended=0&q=be&sort=-created&limit=50');
  t.deepEqual(parseAgentQuery(Object.fromEntries(queryParams(q))), q, 'round trip');
  t.is(queryParams(parseAgentQuery({})).toString(), '');
});
