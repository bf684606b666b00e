import test from 'ava';
import { plan } from '../../controller/reconciler/plan.ts';
import type { Observed } from '../../controller/reconciler/types.ts';

const A = 'a'.repeat(40), P = 'b'.repeat(40), Q = 'c'.repeat(40);
const base = (o: Partial<Observed> = {}): Observed => ({
  now: 1000,
  agent: { name: 'w', state: 'active', suspended: false },
  refs: { applied: A, proposed: A },
  trees: { applied: 't1', proposed: 't1' },
  objectsError: null, proposedDescends: true, openRequest: null, olderOpen: [], rejectedPair: false, approvedIncomplete: null,
  runtime: { state: 'running', revision: A, building: null }, prepared: null, failures: 0, nextAttemptAt: null, lastApplied: A,
  appliedSanctioned: true, lastSanctioned: A, buildFailure: null, crashes: { recent: 0, limit: 5, windowMs: 600_000, oldestAt: null },
  ...o,
});
const types = (o: Observed) => plan(o).actions.map((a) => a.type);
const ready = (o: Observed) => plan(o).conditions.find((c) => c.type === 'Ready')!;

test('converged: nothing to do, Ready', (t) => {
  t.deepEqual(types(base()), []);
  t.is(ready(base()).status, 'True');
  t.is(ready(base()).reason, 'Running');
});

test('trees differ and proposed descends: one pending request for the pair', (t) => {
  const p = plan(base({ refs: { applied: A, proposed: P }, trees: { applied: 't1', proposed: 't2' } }));
  t.deepEqual(p.actions, [{ type: 'raise', base: A, head: P, status: 'pending', supersedes: null }]);
});

test('an open request for the same pair is left alone; for another pair it is superseded by the new one', (t) => {
  const o = base({ refs: { applied: A, proposed: P }, trees: { applied: 't1', proposed: 't2' }, openRequest: { id: 3, base: A, head: P, status: 'pending' } });
  t.deepEqual(types(o), []);
  const moved = plan({ ...o, refs: { applied: A, proposed: Q } });
  t.deepEqual(moved.actions, [{ type: 'raise', base: A, head: Q, status: 'pending', supersedes: 3 }]);
});

test('two open requests (a raise cut short by an older controller): the older is superseded by the newest', (t) => {
  const o = base({ refs: { applied: A, proposed: P }, trees: { applied: 't1', proposed: 't2' }, openRequest: { id: 7, base: A, head: P, status: 'pending' }, olderOpen: [5] });
  t.deepEqual(plan(o).actions, [{ type: 'supersede', id: 5, by: 7, reason: "request #7 is the agent's open request; only one is open at a time" }]);
  // And when the newest is itself out of date, the new raise supersedes it as usual.
  const moved = plan({ ...o, refs: { applied: A, proposed: Q } });
  t.deepEqual(moved.actions.map((a) => [a.type, 'id' in a ? a.id : null, 'supersedes' in a ? a.supersedes : null]), [['supersede', 5, null], ['raise', null, 7]]);
});

test('not descending: diverged', (t) => {
  const p = plan(base({ refs: { applied: A, proposed: P }, trees: { applied: 't1', proposed: 't2' }, proposedDescends: false }));
  t.deepEqual(p.actions, [{ type: 'raise', base: A, head: P, status: 'diverged', supersedes: null }]);
});

test('a rejected pair is not raised again', (t) => {
  t.deepEqual(types(base({ refs: { applied: A, proposed: P }, trees: { applied: 't1', proposed: 't2' }, rejectedPair: true })), []);
});

test('same tree, descending: fast-forward without a request, open request superseded', (t) => {
  const p = plan(base({ refs: { applied: A, proposed: P }, openRequest: { id: 4, base: A, head: Q, status: 'pending' } }));
  t.deepEqual(p.actions.map((a) => a.type), ['supersede', 'fast-forward']);
});

test('an approval recorded before a crash is completed first, by its kind, before anything else', (t) => {
  const p = plan(base({ refs: { applied: A, proposed: P }, trees: { applied: 't1', proposed: 't2' }, approvedIncomplete: { id: 9, kind: 'change' } }));
  t.deepEqual(p.actions, [{ type: 'complete-approval', id: 9, kind: 'change' }]);
  const spawn = plan(base({ agent: { name: 'w', state: 'pending', suspended: false }, approvedIncomplete: { id: 3, kind: 'spawn' } }));
  t.deepEqual(spawn.actions, [{ type: 'complete-approval', id: 3, kind: 'spawn' }]);
  t.is(spawn.conditions[0]!.reason, 'CompletingApproval');
});

test('a revision is prepared, then activated; a build under way is waited for; a stale one is discarded', (t) => {
  const drift = { runtime: { state: 'running' as const, revision: A, building: null } , refs: { applied: P, proposed: P } };
  t.deepEqual(plan(base(drift)).actions, [{ type: 'prepare-runtime', revision: P, reason: `runs ${A.slice(0, 7)}, applied is ${P.slice(0, 7)}` }]);
  const building = plan(base({ ...drift, runtime: { state: 'running', revision: A, building: P } }));
  t.deepEqual(building.actions, [], 'the build under way is not started again');
  t.is(building.conditions.find((c) => c.type === 'Ready')!.reason, 'Building');
  t.is(building.conditions.find((c) => c.type === 'Reconciling')!.reason, 'Building');
  t.deepEqual(plan(base({ ...drift, prepared: P })).actions, [{ type: 'activate-runtime', revision: P }]);
  t.deepEqual(types(base({ ...drift, prepared: A })), ['discard-prepared', 'prepare-runtime'], 'prepared for an older applied');
  t.deepEqual(types(base({ agent: { name: 'w', state: 'kept', suspended: false }, prepared: A })), ['discard-prepared', 'stop-runtime']);
  t.deepEqual(types(base({ ...drift, prepared: P, agent: { name: 'w', state: 'active', suspended: true } })), [], 'suspended: nothing is activated');
});

test('drift: runtime not on applied → apply; backoff respected; suspended and inactive agents', (t) => {
  t.deepEqual(types(base({ runtime: { state: 'none', revision: null, building: null } })), ['prepare-runtime']);
  t.deepEqual(types(base({ runtime: { state: 'running', revision: P, building: null } })), ['prepare-runtime']);
  t.deepEqual(types(base({ runtime: { state: 'crashed', revision: A, building: null } })), ['prepare-runtime']);
  t.deepEqual(types(base({ runtime: { state: 'backoff', revision: A, building: null } })), [], 'the runtime restarts it itself');
  const bo = plan(base({ runtime: { state: 'none', revision: null, building: null }, failures: 2, nextAttemptAt: 5000 }));
  t.deepEqual(bo.actions, []);
  t.is(bo.requeueAt, 5000);
  t.is(bo.conditions.find((c) => c.type === 'Ready')!.reason, 'ApplyFailed');
  t.deepEqual(types(base({ agent: { name: 'w', state: 'active', suspended: true }, runtime: { state: 'running', revision: P, building: null } })), []);
  t.deepEqual(types(base({ agent: { name: 'w', state: 'kept', suspended: false } })), ['stop-runtime']);
  t.deepEqual(types(base({ agent: { name: 'w', state: 'draft', suspended: false }, runtime: { state: 'none', revision: null, building: null } })), []);
});

test('missing refs, missing objects and an unsanctioned applied stall with a reason and do nothing', (t) => {
  const cases: [Partial<Observed>, string][] = [
    [{ refs: { applied: null, proposed: A } }, 'AppliedRefMissing'],
    [{ refs: { applied: A, proposed: null } }, 'ProposedRefMissing'],
    [{ trees: { applied: null, proposed: null }, objectsError: 'bad object' }, 'ObjectsMissing'],
    [{ appliedSanctioned: false }, 'AppliedMovedOutside'],
  ];
  for (const [o, reason] of cases) {
    const p = plan(base(o));
    t.deepEqual(p.actions, [], reason);
    const st = p.conditions.find((c) => c.type === 'Stalled')!;
    t.is(st.status, 'True');
    t.is(st.reason, reason);
    t.truthy(st.message);
  }
});

test('draft, pending and kept agents raise no change requests', (t) => {
  for (const state of ['draft', 'pending', 'kept'] as const) {
    const p = plan(base({ agent: { name: 'w', state, suspended: false }, refs: { applied: A, proposed: P }, trees: { applied: 't1', proposed: 't2' }, runtime: { state: 'none', revision: null, building: null } }));
    t.deepEqual(p.actions, [], state);
  }
});

const stalled = (o: Observed) => plan(o).conditions.find((c) => c.type === 'Stalled')!;

test('a failed build of applied: Stalled/BuildFailed with the error and the log tail; the old revision keeps running', (t) => {
  const o = base({
    refs: { applied: P, proposed: P }, trees: { applied: 't2', proposed: 't2' },
    runtime: { state: 'running', revision: A, building: null }, failures: 1, nextAttemptAt: 5000,
    buildFailure: { revision: P, error: 'nix build failed (exit 1)', logTail: 'line 1\nerror: attribute missing\n' },
  });
  const s = stalled(o);
  t.is(s.status, 'True');
  t.is(s.reason, 'BuildFailed');
  t.regex(s.message, /building bbbbbbb failed: nix build failed \(exit 1\); aaaaaaa keeps running/);
  t.regex(s.message, /error: attribute missing$/, 'ends with the log tail');
  t.deepEqual(types(o), [], 'no action while the backoff runs: what runs is left alone');
  t.is(ready(o).reason, 'ApplyFailed');
});

test('a build failure of a revision that is no longer applied stalls nothing', (t) => {
  const o = base({ buildFailure: { revision: Q, error: 'x', logTail: 'x' } });
  t.is(stalled(o).status, 'False');
});

test('the log tail in BuildFailed is bounded, cut at a line start', (t) => {
  const long = Array.from({ length: 500 }, (_, i) => `line ${i} ${'x'.repeat(20)}`).join('\n');
  const s = stalled(base({ buildFailure: { revision: A, error: 'e', logTail: long } }));
  t.true(s.message.length < 2200);
  t.regex(s.message, /…\nline \d+ x+/);
  t.regex(s.message, /line 499 x+$/);
});

test('N crashes within the window: Stalled/CrashLoop, and a look again once the oldest leaves the window', (t) => {
  const o = base({ now: 100_000, runtime: { state: 'backoff', revision: A, building: null }, crashes: { recent: 5, limit: 5, windowMs: 600_000, oldestAt: 50_000 } });
  const p = plan(o);
  const s = p.conditions.find((c) => c.type === 'Stalled')!;
  t.is(s.reason, 'CrashLoop');
  t.regex(s.message, /crashed 5 times in 10 min/);
  t.is(p.requeueAt, 650_001);
  t.is(stalled(base({ crashes: { recent: 4, limit: 5, windowMs: 600_000, oldestAt: 1 } })).status, 'False', 'fewer than N is no crash loop');
  t.is(stalled(base({ agent: { name: 'w', state: 'active', suspended: true }, crashes: { recent: 9, limit: 5, windowMs: 600_000, oldestAt: 1 } })).status, 'False', 'a suspended agent is not looping');
  t.is(stalled(base({ crashes: { recent: 9, limit: 0, windowMs: 600_000, oldestAt: 1 } })).status, 'False', 'limit 0 turns it off');
});
