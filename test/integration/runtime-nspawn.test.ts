import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { NspawnRuntime, withContainerTargets } from '../../controller/runtime/nspawn.ts';
import { waitFor } from '../helpers/wait.ts';
import { RECORDING_AGENT, runtimeConformance } from '../helpers/runtime-conformance.ts';

/** The agent's command inside the container (PID 2 under the stub init), once the container is up. */
async function agentPid(rt: NspawnRuntime, agent: string): Promise<number> {
  return waitFor(`${agent}'s command inside its container`, () => rt.agentPid(agent), 20_000);
}

// The nspawn backend (--systemd off: the runtime supervises systemd-nspawn itself) against the same
// runtime contract as process and the fake: real unprivileged containers from a minimal rootfs
// with the host's /usr bound read-only; the agent sees the Contract's paths at /hyperhive/*.
runtimeConformance(test, {
  name: 'nspawn',
  skip: () => NspawnRuntime.unavailable(),
  runtime: () => new NspawnRuntime({ systemd: 'off', nixos: false, minBackoffMs: 50, maxBackoffMs: 1000, stopTimeoutMs: 5000 }),
  command: [process.execPath, '-e', RECORDING_AGENT],
  spec: withContainerTargets,
  kill: async (rt, agent) => { process.kill(await agentPid(rt as NspawnRuntime, agent), 'SIGKILL'); },
  envOf: async (_rt, spec) => {
    try { return JSON.parse(fs.readFileSync(path.join(spec.mounts.state.source, 'env.json'), 'utf8')); } catch { return null; }
  },
});
