import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FakeRuntime } from '../../controller/runtime/fake.ts';
import { chooseAgentRuntime } from '../../controller/runtime/from-env.ts';
import { withContainerTargets } from '../../controller/runtime/nspawn.ts';
import { RoutedRuntime, type BackendKind } from '../../controller/runtime/routed.ts';
import type { AgentSpec, RuntimeEvent } from '../../controller/runtime/types.ts';
import { commitFiles } from '../../repos/commit.ts';
import { identityFor } from '../../repos/identity.ts';
import { createRepo } from '../../repos/store.ts';
import { PROJECT_ROOT } from '../helpers/paths.ts';
import { runtimeConformance } from '../helpers/runtime-conformance.ts';

// One router over two backends (fakes standing in for process and nspawn): each revision runs where
// its hyperhive.json's "runtime" says, else on the default; moving to the other backend stops it on
// the first; the nspawn side sees the container's mount targets.

async function fixture(t: import('ava').ExecutionContext) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hh-routed-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const repo = path.join(dir, 'repos', 'w.git');
  const roots = await createRepo(repo, { agent: 'w', templatesDir: path.join(PROJECT_ROOT, 'templates'), eventsFile: path.join(dir, 'refs.jsonl'), author: identityFor('operator'), projectRoot: PROJECT_ROOT });
  const json = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'templates', 'agent', 'hyperhive.json'), 'utf8'));
  const toNspawn = await commitFiles(repo, { branch: 'proposed', files: { 'hyperhive.json': `${JSON.stringify({ ...json, runtime: 'nspawn' })}\n` }, message: 'contain it', author: identityFor('operator'), expectedOld: roots.config, pusher: 'operator' });
  const bad = await commitFiles(repo, { branch: 'proposed', files: { 'hyperhive.json': '{"runtime": "docker"}\n' }, message: 'bad', author: identityFor('operator'), expectedOld: toNspawn, pusher: 'operator' });
  const base = path.join(dir, 'agents', 'w');
  fs.mkdirSync(base, { recursive: true });
  fs.writeFileSync(path.join(base, 'token'), 't\n', { mode: 0o600 });
  const m = (sub: string, readOnly: boolean) => ({ source: path.join(base, sub), target: path.join(base, sub), readOnly });
  const spec: AgentSpec = { name: 'w', repo, mounts: { config: m('config', true), state: m('state', false), token: m('token', true) }, env: {}, controllerUrl: 'http://127.0.0.1:9', command: ['x'], workingClone: false };
  const fakes = new Map<BackendKind, FakeRuntime>();
  const rt = new RoutedRuntime({
    fallback: 'process',
    make: (k) => { const f = new FakeRuntime({ minBackoffMs: 20 }); fakes.set(k, f); return f; },
    choose: (s, rev) => chooseAgentRuntime(s.repo, rev),
    adapt: (k, s) => (k === 'nspawn' ? withContainerTargets(s) : s),
  });
  const events: RuntimeEvent[] = [];
  rt.onEvent((e) => events.push(e));
  t.teardown(() => rt.close());
  return { rt, spec, roots, toNspawn, bad, fakes, events };
}

test('the default runs a revision without "runtime"; one with "runtime": "nspawn" moves the agent there, stopped on the first', async (t) => {
  const f = await fixture(t);
  await f.rt.activate(await f.rt.prepare(f.spec, f.roots.config));
  t.like(f.rt.status('w'), { state: 'running', kind: 'process', revision: f.roots.config });
  t.is(f.fakes.get('process')!.envOf('w')!.HYPERHIVE_STATE_DIR, f.spec.mounts.state.target);
  const p = f.rt.prepare(f.spec, f.toNspawn);
  t.is(f.rt.status('w').building, f.toNspawn, 'building shows at once');
  await f.rt.activate(await p);
  t.like(f.rt.status('w'), { state: 'running', kind: 'nspawn', revision: f.toNspawn });
  t.is(f.fakes.get('process')!.status('w').state, 'stopped', 'stopped on the process side');
  t.is(f.fakes.get('nspawn')!.envOf('w')!.HYPERHIVE_STATE_DIR, '/hyperhive/state', 'the container sees the Contract paths');
  t.true(f.events.some((e) => e.type === 'stopped') && f.events.filter((e) => e.type === 'started').length === 2);
  const h = f.rt.health();
  t.is(h.kind, 'process');
  t.deepEqual(h.backends?.map((b) => b.kind), ['nspawn']);
});

test('a revision whose hyperhive.json does not parse fails its prepare with build-failed, naming why', async (t) => {
  const f = await fixture(t);
  await f.rt.activate(await f.rt.prepare(f.spec, f.roots.config));
  const err = await t.throwsAsync(() => f.rt.prepare(f.spec, f.bad));
  t.regex(err!.message, /runtime: must be one of process, nspawn/);
  const ev = f.events.find((e) => e.type === 'build-failed');
  t.truthy(ev);
  t.like(f.rt.status('w'), { state: 'running', revision: f.roots.config, building: null });
});

test('exec into an agent the router never started is refused', async (t) => {
  const f = await fixture(t);
  await t.throwsAsync(() => f.rt.exec('w', { cols: 80, rows: 24 }), { message: /not running/ });
});

// The router itself keeps the contract (events in order, building at once, stop, discard, close).
runtimeConformance(test, {
  name: 'routed',
  skip: () => null,
  runtime: () => new RoutedRuntime({ fallback: 'process', make: () => new FakeRuntime({ minBackoffMs: 20, maxBackoffMs: 500 }), choose: async () => null, adapt: (_k, s) => s }),
  command: ['fake-agent'],
  kill: (rt, agent) => ((rt as unknown as { backend(k: string): FakeRuntime }).backend('process')).exit(agent, { code: null, signal: 'SIGKILL' }),
  envOf: async (rt, spec) => ((rt as unknown as { backend(k: string): FakeRuntime }).backend('process')).envOf(spec.name),
});
