import test from 'ava';
import { fakeCore, OPERATOR, propose, running, until } from '../helpers/fake-core.ts';

// The two stalls the runtime can cause, on the FakeRuntime: a build (prepare) that fails shows on the
// agent as Stalled/BuildFailed with the build log's tail while the old revision keeps running; N
// crashes within the window show as Stalled/CrashLoop while the runtime keeps restarting it.

const ALICE = { kind: 'operator' as const, name: 'alice' };
const stalledOf = async (f: Awaited<ReturnType<typeof fakeCore>>, name: string) =>
  (await f.core.controller.getAgent(name)).conditions.find((c) => c.type === 'Stalled')!;

test('a failed build: Stalled/BuildFailed with the log tail, the old revision keeps running; cleared once a build succeeds', async (t) => {
  const f = await fakeCore(t, { backoff: { minMs: 60_000, maxMs: 60_000 } });
  const a = await f.core.controller.createAgent('alpha', OPERATOR);
  await running(f, 'alpha', a.applied!);
  const head = await propose(f, 'alpha', { 'agent.nix': '{ ... }: { hyperhive = builtins.fromJSON (builtins.readFile ./hyperhive.json); boot.bogus = 1; }\n' });
  f.runtime.failNextPrepare('alpha', "error: The option `boot.bogus' does not exist.");
  await f.core.controller.approve(f.core.controller.openChange('alpha')!.id, ALICE);
  const s = await until('Stalled/BuildFailed', async () => { const c = await stalledOf(f, 'alpha'); return c.reason === 'BuildFailed' ? c : null; });
  t.is(s.status, 'True');
  t.regex(s.message, new RegExp(`building ${head.slice(0, 7)} failed: error: The option .boot.bogus. does not exist\\.; ${a.applied!.slice(0, 7)} keeps running`));
  t.regex(s.message, new RegExp(`build log of ${head.slice(0, 7)}`), "the build log's tail is in the condition");
  const view = await f.core.controller.getAgent('alpha');
  t.is(view.runtime.state, 'running');
  t.is(view.runtime.revision, a.applied, 'the old revision keeps running');
  t.true(f.core.log.list({ agent: 'alpha' }).some((e) => e.event === 'stalled' && /BuildFailed/.test(JSON.stringify(e.data))), 'the stall is a log row');
  // The operator fixes it; the next build succeeds and the stall is gone.
  f.core.status.update('alpha', (st) => { st.nextAttemptAt = Date.now(); });
  f.core.reconciler.enqueue('alpha');
  await running(f, 'alpha', head);
  await until('no longer stalled', async () => (await stalledOf(f, 'alpha')).status === 'False');
});

test('N crashes within the window: Stalled/CrashLoop, while the runtime goes on restarting it', async (t) => {
  const f = await fakeCore(t, { crashLoop: { crashes: 3, windowMs: 60_000 } });
  const a = await f.core.controller.createAgent('alpha', OPERATOR);
  await running(f, 'alpha', a.applied!);
  for (let i = 1; i <= 3; i++) {
    f.runtime.exit('alpha', { code: 1, signal: null });
    await until(`restart ${i}`, () => f.runtime.status('alpha').restarts === i && f.runtime.status('alpha').state === 'running');
    if (i < 3) { await f.core.reconciler.settled('alpha'); t.is((await stalledOf(f, 'alpha')).status, 'False', `no crash loop after ${i}`); }
  }
  const s = await until('Stalled/CrashLoop', async () => { const c = await stalledOf(f, 'alpha'); return c.reason === 'CrashLoop' ? c : null; });
  t.regex(s.message, /crashed 3 times in 1 min/);
  t.is(f.runtime.status('alpha').state, 'running', 'still restarted');
});
