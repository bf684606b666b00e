// The fleet listing's caches (AgentViews, RefCache, the plan memo) never show a view older than its
// inputs: each input is changed here the way production changes it, and the very next read shows it,
// with no pass or wait in between. And while nothing changes, the same view object is served again
// (the cache is in use, not bypassed). The whole controller: real sqlite, real repos and hooks, the
// fake runtime.
import test from 'ava';
import { fakeCore, OPERATOR, running, until } from '../helpers/fake-core.ts';
import { parseAgentQuery } from '../../controller/agents/query.ts';
import { commitFiles } from '../../repos/commit.ts';
import { identityFor } from '../../repos/identity.ts';
import { readRefs } from '../../repos/refs.ts';
import type { Condition } from '../../controller/reconciler/types.ts';

async function fleet(t: import('ava').ExecutionContext) {
  const f = await fakeCore(t);
  const c = f.core.controller;
  for (const n of ['alpha', 'beta', 'gamma']) {
    await c.createAgent(n, OPERATOR);
    await running(f, n, (await readRefs(f.core.paths.repo(n))).applied!);
  }
  return { f, c };
}

const names = (views: { name: string }[]) => views.map((v) => v.name);

test('an unchanged agent is served the same view; its JSON is what the view serialises to', async (t) => {
  const { c } = await fleet(t);
  const a = await c.getAgent('beta');
  t.is(await c.getAgent('beta'), a, 'the cached view');
  const q = parseAgentQuery({ limit: '2' });
  const page = await c.listAgentsPage(q);
  t.deepEqual(names(page.agents), ['alpha', 'beta']);
  t.is(page.agents[1], a, 'the listing serves the same cached view');
  const json = await c.listAgentsJson(q);
  t.is(json.json, JSON.stringify(page.agents));
  t.is(json.total, 3);
});

test('a branch moved by git shows on the next read, without waiting for the reconciler', async (t) => {
  const { f, c } = await fleet(t);
  const before = await c.getAgent('alpha');
  const repo = f.core.paths.repo('alpha');
  const sha = await commitFiles(repo, { branch: 'proposed', files: { 'prompt.md': 'changed\n' }, message: 'edit', author: identityFor('alice'), expectedOld: before.proposed!, pusher: 'alice' });
  const after = await c.getAgent('alpha');
  t.is(after.proposed, sha);
  t.not(after, before);
  t.is(JSON.parse((await c.listAgentsJson(parseAgentQuery({ q: 'alpha' }))).json)[0].proposed, sha);
});

test('the record (suspended), the status (conditions), the runtime and a condition source each show on the next read', async (t) => {
  const { f, c } = await fleet(t);

  // The record: a suspend is a write to `agents`.
  await c.setSuspended('gamma', true, OPERATOR);
  t.true((await c.getAgent('gamma')).suspended);
  t.deepEqual(names((await c.listAgentsPage(parseAgentQuery({ suspended: '1' }))).agents), ['gamma']);

  // The status: what the reconciler writes (here directly, as StatusStore is its one writer).
  const stalled: Condition[] = [
    { type: 'Ready', status: 'False', reason: 'BuildFailed', message: 'x' },
    { type: 'Stalled', status: 'True', reason: 'BuildFailed', message: 'x' },
  ];
  const q = parseAgentQuery({ condition: 'Stalled' });
  t.deepEqual(names((await c.listAgentsPage(q)).agents), [], 'planned (and memoized) with nobody stalled');
  f.core.status.update('alpha', (s) => { s.conditions = stalled; });
  const page = await c.listAgentsPage(q);
  t.deepEqual(names(page.agents), ['alpha'], 'the memoized plan was made again');
  t.is(page.counts.Stalled, 1);
  t.deepEqual((await c.getAgent('alpha')).conditions, stalled);

  // The runtime: the agent's process dies and is started again (a new pid, one more restart).
  const rt0 = (await c.getAgent('beta')).runtime;
  f.runtime.exit('beta');
  const rt1 = (await c.getAgent('beta')).runtime;
  t.deepEqual(rt1.state, f.runtime.status('beta').state);
  t.not(JSON.stringify(rt1), JSON.stringify(rt0));
  await until('beta running again', () => f.runtime.status('beta').state === 'running' && f.runtime.status('beta').restarts > rt0.restarts);
  const rt2 = (await c.getAgent('beta')).runtime;
  t.is(rt2.pid, f.runtime.status('beta').pid);
  t.is(rt2.restarts, f.runtime.status('beta').restarts);

  // A condition source with a version: the plan is made again when it moves.
  let harness = false; let version = 0;
  c.addConditionSource((name, base) => (harness && name === 'beta' ? [...base.filter((x) => x.type !== 'Stalled'), { type: 'Stalled', status: 'True', reason: 'AuthFailed', message: 'y' }] : base), () => version);
  t.deepEqual(names((await c.listAgentsPage(q)).agents), ['alpha']);
  harness = true; version += 1;
  t.deepEqual(names((await c.listAgentsPage(q)).agents), ['alpha', 'beta']);
  t.is((await c.listAgentsPage(parseAgentQuery({ reason: 'AuthFailed' }))).total, 1);
  t.true((await c.getAgent('beta')).conditions.some((x) => x.reason === 'AuthFailed'));

  // A source without a version: never memoized, so its change shows even with no counter to move.
  let extra = false;
  c.addConditionSource((name, base) => (extra && name === 'gamma' ? [...base.filter((x) => x.type !== 'Stalled'), { type: 'Stalled', status: 'True', reason: 'Stuck', message: 'z' }] : base));
  t.is((await c.listAgentsPage(q)).total, 2);
  extra = true;
  t.is((await c.listAgentsPage(q)).total, 3);
});
