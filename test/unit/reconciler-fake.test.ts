import test from 'ava';
import { readRefs } from '../../repos/refs.ts';
import { fakeCore, OPERATOR, propose, running, until } from '../helpers/fake-core.ts';

// The reconciler and the approvals service driven on the FakeRuntime, without serve(): real git and
// sqlite, no processes, every wait on a positive signal.

const ALICE = { kind: 'operator' as const, name: 'alice' };

test('a created agent runs its applied revision; a crash is restarted by the runtime, not re-applied', async (t) => {
  const f = await fakeCore(t);
  const a = await f.core.controller.createAgent('alpha', OPERATOR);
  await running(f, 'alpha', a.applied!);
  t.is(f.runtime.launches.get('alpha'), 1);
  t.is(f.runtime.prepares.get('alpha'), 1);
  f.runtime.exit('alpha', { code: 1, signal: null });
  await until('restarted', () => f.runtime.status('alpha').restarts === 1 && f.runtime.status('alpha').state === 'running');
  await f.core.reconciler.settled('alpha');
  t.is(f.runtime.prepares.get('alpha'), 1, 'the runtime restarted it; the reconciler prepared nothing new');
  const log = f.core.log.list({ agent: 'alpha' }).map((e) => e.event);
  t.true(log.includes('runtime-crashed') && log.includes('runtime-backoff'));
  t.true(f.events.some((e) => e.type === 'runtime' && e.agent === 'alpha' && e.event.type === 'crashed'));
});

test('a slow prepare runs outside the agent\'s slot: the old revision runs, the agent shows building, and operations on it go on', async (t) => {
  const f = await fakeCore(t);
  const a = await f.core.controller.createAgent('alpha', OPERATOR);
  await running(f, 'alpha', a.applied!);
  const head = await propose(f, 'alpha', { 'prompt.md': 'slow build\n' });
  const release = f.runtime.holdPrepare('alpha');
  await f.core.controller.approve(f.core.controller.openChange('alpha')!.id, ALICE);
  await until('building', () => f.runtime.status('alpha').building === head);
  const view = await f.core.controller.getAgent('alpha');
  t.is(view.runtime.state, 'building');
  t.is(view.runtime.revision, a.applied, 'the old revision runs on');
  t.is(view.conditions.find((c) => c.type === 'Ready')!.reason, 'Building');
  // Operations that need the agent's slot are not held up by the build.
  await f.core.controller.setSuspended('alpha', true, OPERATOR);
  await f.core.controller.setSuspended('alpha', false, OPERATOR);
  const second = await propose(f, 'alpha', { 'notes-for-later.md': 'queued\n' });
  t.is(f.core.controller.openChange('alpha')!.head, second, 'a new request is raised while the build runs');
  t.is(f.runtime.status('alpha').revision, a.applied);
  release();
  await running(f, 'alpha', head);
  t.is(f.runtime.launches.get('alpha'), 2);
});

test('a build that fails is retried with backoff, the old revision running meanwhile; the next attempt succeeds', async (t) => {
  const f = await fakeCore(t);
  const a = await f.core.controller.createAgent('alpha', OPERATOR);
  await running(f, 'alpha', a.applied!);
  const head = await propose(f, 'alpha', { 'prompt.md': 'fails once\n' });
  f.runtime.failNextPrepare('alpha', 'nix build: error: attribute missing');
  await f.core.controller.approve(f.core.controller.openChange('alpha')!.id, ALICE);
  const failed = await until('apply-failed logged', () => f.core.log.list({ agent: 'alpha' }).find((e) => e.event === 'apply-failed'));
  t.regex(failed.message, /attribute missing/);
  t.true(f.core.log.list({ agent: 'alpha' }).some((e) => e.event === 'runtime-build-failed' && e.level === 'error'));
  t.is(f.runtime.status('alpha').revision, a.applied, 'the old revision kept running');
  await running(f, 'alpha', head);
  t.is(f.core.status.get('alpha').failures, 0, 'failures reset once it runs');
  t.is(f.runtime.prepares.get('alpha'), 3, 'first start, the failed build, the retry');
});

test('applied moving on during a build: the overtaken build is discarded and only the newest revision starts', async (t) => {
  const f = await fakeCore(t);
  const a = await f.core.controller.createAgent('alpha', OPERATOR);
  await running(f, 'alpha', a.applied!);
  const release = f.runtime.holdPrepare('alpha');
  const r2 = await propose(f, 'alpha', { 'prompt.md': 'two\n' });
  await f.core.controller.approve(f.core.controller.openChange('alpha')!.id, ALICE);
  await until('r2 building', () => f.runtime.status('alpha').building === r2);
  const r3 = await propose(f, 'alpha', { 'prompt.md': 'three\n' });
  await f.core.controller.approve(f.core.controller.openChange('alpha')!.id, ALICE);
  await until('r3 building', () => f.runtime.status('alpha').building === r3);
  release();
  await running(f, 'alpha', r3);
  t.is(f.runtime.launches.get('alpha'), 2, 'r2 never started');
  t.is((await readRefs(f.core.paths.repo('alpha'))).applied, r3);
});

test('a command that cannot start leaves the runtime crashed; the reconciler applies again with its backoff', async (t) => {
  const f = await fakeCore(t);
  f.runtime.failNextLaunch('alpha', 'spawn claude ENOENT');
  const a = await f.core.controller.createAgent('alpha', OPERATOR);
  await running(f, 'alpha', a.applied!);
  t.true(f.core.log.list({ agent: 'alpha' }).some((e) => e.event === 'runtime-crashed' && /ENOENT/.test(e.message)));
  t.is(f.runtime.launches.get('alpha'), 1, 'one successful start after the failed one');
});

test('a kept agent is stopped, a suspended one is not re-applied, a draft never starts', async (t) => {
  const f = await fakeCore(t);
  const a = await f.core.controller.createAgent('alpha', OPERATOR);
  await running(f, 'alpha', a.applied!);
  await f.core.controller.setSuspended('alpha', true, OPERATOR);
  const head = await propose(f, 'alpha', { 'prompt.md': 'while suspended\n' });
  await f.core.controller.approve(f.core.controller.openChange('alpha')!.id, ALICE);
  await f.core.reconciler.settled('alpha');
  t.is(f.runtime.status('alpha').revision, a.applied, 'suspended: the approved revision waits');
  await f.core.controller.setSuspended('alpha', false, OPERATOR);
  await running(f, 'alpha', head);
  f.core.agents.setState('alpha', 'kept');
  f.core.reconciler.enqueue('alpha');
  await until('stopped', () => f.runtime.status('alpha').state === 'stopped');
  await f.core.spawner.requestSpawnDraft('beta', OPERATOR);
  await f.core.reconciler.settled('beta');
  t.is(f.runtime.status('beta').state, 'none');
  t.is(f.runtime.prepares.get('beta'), undefined);
});
