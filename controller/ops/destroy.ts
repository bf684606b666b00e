import fs from 'node:fs';
import type { Identity } from '../auth/index.ts';
import { HyperhiveError } from '../errors.ts';
import { assertCan } from '../lifecycle.ts';
import { MANAGER } from '../names.ts';
import { readRefs } from '../../repos/refs.ts';
import { dirSize } from './dir-size.ts';
import { expireOpen } from './expire-open.ts';
import { keptInfo, type KeptInfo } from './kept-info.ts';
import { humanBytes, short, type LifecycleDeps } from './lifecycle-deps.ts';

/** How long a destroy waits for a build under way (a Nix build may take minutes) before it answers. */
export const DEFAULT_BUILD_WAIT_MS = 120_000;

export interface DestroyOptions {
  reason?: string | null;
  /** The destroy request this carries out (approved by `by`) and who asked for it. */
  approvalId?: number | null;
  requestedBy?: string | null;
}

/**
 * An operator's destroy, at once: in the agent's slot, so it is serialized with any apply (an
 * activation runs only in that slot) and waits for a build under way to end; see destroyInSlot.
 */
export async function destroy(d: LifecycleDeps, name: string, by: Identity, o: DestroyOptions = {}): Promise<KeptInfo> {
  if (by.kind !== 'operator') throw new HyperhiveError('forbidden', `only an operator destroys an agent at once; ${by.kind} ${by.name} may ask for it (request_destroy), and an operator decides`);
  assertCan(d.requireAgent(name), 'destroy');
  return d.exclusive(name, () => destroyInSlot(d, name, by.name, o));
}

/**
 * Takes the agent down and keeps its repo (every branch) and state dir. Kept first, in one transaction
 * with its audit row and the expiry of its open requests: from then on its token is refused (the
 * lifecycle policy says so to every authentication) and no pass starts it. Then its token is dropped
 * and its file removed, a build under way is waited for and its result discarded, and the runtime is
 * stopped (which ends a terminal session into it). Caller holds the agent's slot.
 */
export async function destroyInSlot(d: LifecycleDeps, name: string, by: string, o: DestroyOptions = {}): Promise<KeptInfo> {
  const rec = d.requireAgent(name);
  assertCan(rec, 'destroy');
  const now = (d.now ?? Date.now)();
  const { applied } = await readRefs(d.paths.repo(name)).catch(() => ({ applied: null }));
  const stateBytes = await dirSize(d.paths.state(name));
  const why = `agent ${name} was destroyed by ${by}`;
  const expired = d.store.atomically(() => {
    d.agents.setState(name, 'kept');
    d.log.audit({ actor: by, action: 'destroy', agent: name, approvalId: o.approvalId ?? null, head: applied, reason: o.reason ?? null, data: { stateBytes, previous: rec.state, ...(o.requestedBy ? { requestedBy: o.requestedBy } : {}) } });
    return expireOpen(d, name, by, why, now);
  });
  d.tokens.removeIdentity({ kind: 'agent', name });
  fs.rmSync(d.paths.token(name), { force: true });
  d.log.info(name, 'destroy-started', `destroy of ${name} by ${by}${o.requestedBy ? ` (requested by ${o.requestedBy})` : ''}: its token no longer works; stopping its runtime`, { approval: o.approvalId ?? null });
  // Subscribers end what the agent had open (in-flight MCP calls) and refresh the pages.
  d.events.publish({ type: 'agent.changed', agent: name, what: 'state' });
  for (const a of expired) d.events.publish({ type: 'request.decided', agent: name, id: a.id, kind: a.kind, status: 'expired', by: 'controller' });
  const build = d.loop.buildOf(name);
  if (build) {
    const waitMs = d.buildWaitMs ?? DEFAULT_BUILD_WAIT_MS;
    d.log.info(name, 'destroy-waiting', `destroy of ${name} waits for the build of ${short(build.revision)} to end, so nothing half-started is left`, { revision: build.revision });
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([build.done.then(() => true), new Promise<boolean>((r) => { timer = setTimeout(() => r(false), waitMs); })]);
    clearTimeout(timer);
    // A build cannot be cancelled; one that outlasts the wait is discarded by the next pass when it
    // ends (a kept agent's prepared revision never activates), so answering now leaves nothing started.
    if (!ended) d.log.warn(name, 'destroy-build-pending', `the build of ${short(build.revision)} still runs after ${Math.round(waitMs / 1000)} s: ${name} is kept and will not start it; it is discarded when it ends`, { revision: build.revision });
  }
  const discarded = await d.loop.discardPrepared(name);
  await d.runtime.stop(name);
  d.log.info(name, 'destroyed', `agent ${name} destroyed by ${by}: runtime stopped, repo and state kept (${humanBytes(stateBytes)}), applied ${short(applied)}${discarded ? `; prepared ${short(discarded)} discarded` : ''}${expired.length ? `; expired ${expired.map((a) => `#${a.id}`).join(', ')}` : ''}`, { applied, stateBytes, expired: expired.map((a) => a.id) });
  d.events.publish({ type: 'agent.lifecycle', agent: name, what: 'destroyed', by, approvalId: o.approvalId ?? null });
  return keptInfo(d.log, name) ?? { at: now, by, stateBytes, applied, reason: o.reason ?? null, requestedBy: o.requestedBy ?? null, approvalId: o.approvalId ?? null };
}

/** No agent acts on the manager (an operator may): the refusal in one place. */
export function assertNotManager(name: string, by: Identity, what: string): void {
  if (name === MANAGER && by.kind !== 'operator') throw new HyperhiveError('forbidden', `name: no agent may ${what} the manager (only an operator can)`, { field: 'name' });
}
