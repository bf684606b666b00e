import fs from 'node:fs';
import { HyperhiveError } from '../errors.ts';
import { FakeRuntime } from './fake.ts';
import { NspawnRuntime, withContainerTargets, type NspawnRuntimeOptions } from './nspawn.ts';
import { ProcessRuntime, type ProcessRuntimeOptions } from './process.ts';
import { RoutedRuntime, type BackendKind } from './routed.ts';
import type { AgentSpec, Runtime, RuntimeKind } from './types.ts';

export * from './types.ts';
export { ProcessRuntime } from './process.ts';
export { FakeRuntime } from './fake.ts';
export { NspawnRuntime, withContainerTargets, CONTAINER_TARGETS } from './nspawn.ts';
export { RoutedRuntime } from './routed.ts';

export interface RuntimeChoice {
  kind: RuntimeKind;
  /** --systemd: transient units over the system bus (nspawn), or supervised by the controller. */
  systemd: 'auto' | 'on' | 'off';
  process?: ProcessRuntimeOptions;
  nspawn?: Omit<NspawnRuntimeOptions, 'systemd'>;
  /** The `"runtime"` an agent's revision names in its hyperhive.json (null: the default). */
  choose?: (spec: AgentSpec, revision: string) => Promise<BackendKind | null>;
}

/** `--systemd auto`: on where systemd runs the host (as `sd_booted()` tells it). */
export function systemdMode(flag: 'auto' | 'on' | 'off', booted = fs.existsSync('/run/systemd/system')): 'on' | 'off' {
  return flag === 'auto' ? (booted ? 'on' : 'off') : flag;
}

/**
 * The runtime `serve --runtime` names. process and nspawn sit behind one router, so an agent's
 * hyperhive.json may pick the other (`"runtime": "nspawn"`); the nspawn backend is made only when
 * an agent needs it, and says why it cannot run (not root, no systemd-nspawn) on that agent.
 */
export function createRuntime(c: RuntimeChoice): Runtime {
  if (c.kind === 'fake') return new FakeRuntime();
  if (c.kind !== 'process' && c.kind !== 'nspawn') throw new HyperhiveError('bad_request', `unknown runtime ${JSON.stringify(c.kind)}: use process or nspawn`);
  if (c.kind === 'nspawn') {
    const why = NspawnRuntime.unavailable(c.nspawn?.binary);
    if (why) throw new HyperhiveError('not_supported', `--runtime nspawn: ${why}`);
  }
  const systemd = systemdMode(c.systemd);
  return new RoutedRuntime({
    fallback: c.kind,
    make: (kind) => (kind === 'process' ? new ProcessRuntime(c.process) : new NspawnRuntime({ ...c.nspawn, systemd })),
    choose: c.choose ?? (async () => null),
    adapt: (kind, spec) => (kind === 'nspawn' ? withContainerTargets(spec) : spec),
  });
}
