import { assertCan } from '../lifecycle.ts';
import type { ExecOptions, PtyHandle } from '../runtime/types.ts';
import type { OpDeps } from './deps.ts';

/**
 * A PTY into the agent's runtime (the terminal): only for an agent that runs, through the runtime's
 * exec, which refuses a stopped agent (`conflict`) and answers `not_supported` where it cannot — never
 * a host shell in its place.
 */
export async function openTerminal(d: OpDeps, name: string, o: ExecOptions): Promise<PtyHandle> {
  assertCan(d.requireAgent(name), 'run');
  return d.exec(name, o);
}
