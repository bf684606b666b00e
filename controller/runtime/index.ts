import { HyperhiveError } from '../errors.ts';
import { FakeRuntime } from './fake.ts';
import { ProcessRuntime, type ProcessRuntimeOptions } from './process.ts';
import type { Runtime, RuntimeKind } from './types.ts';

export * from './types.ts';
export { ProcessRuntime } from './process.ts';
export { FakeRuntime } from './fake.ts';

export interface RuntimeChoice {
  kind: RuntimeKind;
  /** --systemd: transient units over the system bus (nspawn), or supervised by the controller. */
  systemd: 'auto' | 'on' | 'off';
  process?: ProcessRuntimeOptions;
}

/** The runtime `serve --runtime` names. */
export function createRuntime(c: RuntimeChoice): Runtime {
  switch (c.kind) {
    case 'process': return new ProcessRuntime(c.process);
    case 'fake': return new FakeRuntime();
    case 'nspawn':
      throw new HyperhiveError('bad_request', 'runtime "nspawn" is not available in this build yet: use --runtime process');
  }
}
