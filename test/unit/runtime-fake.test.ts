import test from 'ava';
import { FakeRuntime } from '../../controller/runtime/fake.ts';
import { runtimeConformance } from '../helpers/runtime-conformance.ts';

// The fake passes the same contract as every backend, so tests that drive the reconciler on it
// exercise what a real runtime does.
runtimeConformance(test, {
  name: 'fake',
  skip: () => null,
  runtime: () => new FakeRuntime({ minBackoffMs: 20, maxBackoffMs: 500 }),
  command: ['fake-agent'],
  kill: (rt, agent) => (rt as FakeRuntime).exit(agent, { code: null, signal: 'SIGKILL' }),
  envOf: async (rt, spec) => (rt as FakeRuntime).envOf(spec.name),
});
