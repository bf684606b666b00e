// A destroy while a revision is being built: it waits for the build to end, discards it, and nothing
// starts. The whole controller with the fake runtime, whose prepare the test holds open.
import test from 'ava';
import { fakeCore, OPERATOR, propose, running, until } from '../helpers/fake-core.ts';
import { readRefs } from '../../repos/refs.ts';

/** An agent running rev1 whose approved change (rev2 = open.head) is being built, the build held open. */
async function heldBuild(t: import('ava').ExecutionContext, prompt: string, o: Parameters<typeof fakeCore>[1] = {}) {
  const f = await fakeCore(t, o);
  const c = f.core.controller;
  await c.createAgent('worker', OPERATOR);
  const rev1 = (await readRefs(f.core.paths.repo('worker'))).applied!;
  await running(f, 'worker', rev1);
  const launches = f.runtime.launches.get('worker');
  const release = f.runtime.holdPrepare('worker');
  await propose(f, 'worker', { 'prompt.md': prompt });
  const open = c.openChange('worker')!;
  await c.approve(open.id, OPERATOR);
  return { f, c, rev1, launches, release, open };
}

test('a destroy during a build is serialized with it: no half-started agent', async (t) => {
  const { f, c, rev1, launches, release, open } = await heldBuild(t, 'a new role\n');
  const rev2 = open.head!;
  // The build of rev2 is under way (held): the positive signal that the destroy meets it.
  await until('the build of rev2 under way', () => f.core.reconciler.buildOf('worker')?.revision === rev2);

  const token = (await import('node:fs')).readFileSync(f.core.paths.token('worker'), 'utf8').trim();
  let done = false;
  const destroyed = c.destroy('worker', OPERATOR).then((r) => { done = true; return r; });
  await until('the destroy waiting for the build', () => f.core.log.list({ agent: 'worker' }).some((e) => e.event === 'destroy-waiting'));
  t.false(done, 'the destroy waits for the build');
  t.is(c.findAgent('worker')!.state, 'kept', 'kept already: nothing starts meanwhile');
  t.is(c.authenticate(token), null, 'and its token is refused already');

  release();
  const info = await destroyed;
  t.is(info.applied, rev2);
  await f.core.reconciler.settled('worker');
  const rt = f.runtime.status('worker');
  t.true(rt.state === 'stopped' || rt.state === 'none', rt.state);
  t.not(rt.revision, rev2, 'rev2 never ran');
  t.is(f.runtime.launches.get('worker'), launches, 'nothing was started after the destroy');
  const doneRow = f.core.log.list({ agent: 'worker' }).find((e) => e.event === 'destroyed');
  t.regex(doneRow?.message ?? '', new RegExp(`prepared ${rev2.slice(0, 7)} discarded`));
  t.is(f.core.reconciler.buildOf('worker'), null);
});

test("a kept agent's token is refused by the policy itself, even were the registry to hold it still", async (t) => {
  const f = await fakeCore(t);
  const c = f.core.controller;
  await c.createAgent('worker', OPERATOR);
  const token = (await import('node:fs')).readFileSync(f.core.paths.token('worker'), 'utf8').trim();
  t.deepEqual(c.authenticate(token), { kind: 'agent', name: 'worker' });
  await c.destroy('worker', OPERATOR);
  // What a stale registry would do (a token loaded before a destroy by another path): it is still refused.
  f.core.tokens.add(token, { kind: 'agent', name: 'worker' });
  t.is(c.authenticate(token), null);
  t.is(f.core.tokens.authenticate(token)?.name, 'worker', 'the registry alone would have let it in');
});

test('an approved destroy request that a crash cut short is completed by the next pass', async (t) => {
  const f = await fakeCore(t);
  const c = f.core.controller;
  await c.createAgent('worker', OPERATOR);
  const rq = await c.requestDestroy('worker', { kind: 'agent', name: 'manager' }, 'no longer needed');
  // The decision recorded, its effect not carried out: what a kill between the two leaves.
  f.core.approvalStore.update(rq.id, { status: 'approved', decidedBy: 'operator', decidedAt: Date.now() });
  f.core.reconciler.enqueue('worker');
  await until('the destroy completed', () => c.findAgent('worker')?.state === 'kept');
  await f.core.reconciler.settled('worker');
  t.true(f.core.log.list({ agent: 'worker' }).some((e) => e.event === 'approval-completed'));
  t.like(c.keptInfo('worker'), { by: 'operator', requestedBy: 'manager', approvalId: rq.id, reason: 'no longer needed' });
});

test('a build that outlasts the wait: the destroy answers, and the build is discarded when it ends, never started', async (t) => {
  const { f, c, rev1, launches, release, open } = await heldBuild(t, 'slow to build\n', { destroyBuildWaitMs: 200 });
  await until('the build under way', () => f.core.reconciler.buildOf('worker')?.revision === open.head);
  await c.destroy('worker', OPERATOR);
  t.true(f.core.log.list({ agent: 'worker' }).some((e) => e.event === 'destroy-build-pending'), 'it says the build still runs');
  t.is(c.findAgent('worker')!.state, 'kept');
  release();
  await until('the late build discarded', () => f.core.log.list({ agent: 'worker' }).some((e) => e.event === 'prepared-discarded' && e.data.revision === open.head));
  await f.core.reconciler.settled('worker');
  t.is(f.runtime.launches.get('worker'), launches, 'nothing started');
  t.not(f.runtime.status('worker').revision, open.head);
});
