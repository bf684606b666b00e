import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { ProcessRuntime } from '../../controller/runtime/process.ts';
import { RECORDING_AGENT, runtimeConformance } from '../helpers/runtime-conformance.ts';

// The embedded default backend against the runtime contract: real child processes, real signals.
runtimeConformance(test, {
  name: 'process',
  skip: () => null,
  runtime: () => new ProcessRuntime({ minBackoffMs: 50, maxBackoffMs: 1000, stopTimeoutMs: 3000 }),
  command: [process.execPath, '-e', RECORDING_AGENT],
  kill: (rt, agent) => {
    const pid = rt.status(agent).pid;
    if (!pid) throw new Error(`${agent} has no pid`);
    process.kill(pid, 'SIGKILL');
  },
  envOf: async (_rt, spec) => {
    try { return JSON.parse(fs.readFileSync(path.join(spec.mounts.state.source, 'env.json'), 'utf8')); } catch { return null; }
  },
});
