import fs from 'node:fs';
import type { Identity } from '../auth/index.ts';
import { HyperhiveError } from '../errors.ts';
import { assertCan } from '../lifecycle.ts';
import { readRefs } from '../../repos/refs.ts';
import { dirSize } from './dir-size.ts';
import { expireOpen } from './expire-open.ts';
import { keptInfo } from './kept-info.ts';
import { humanBytes, short, type LifecycleDeps } from './lifecycle-deps.ts';

export interface PurgeResult { agent: string; applied: string | null; stateBytes: number; removed: Record<string, number> }

/** The confirmation a purge needs: exactly the agent's name. Refused before anything is touched. */
export function assertPurgeConfirmed(name: string, confirm: unknown): void {
  if (confirm === undefined || confirm === null || confirm === '') {
    throw new HyperhiveError('bad_request', `confirm: purging deletes ${name}'s repo and state for good; confirm it with the agent's name (confirm=${name})`, { field: 'confirm' });
  }
  if (confirm !== name) {
    throw new HyperhiveError('bad_request', `confirm: ${JSON.stringify(String(confirm).slice(0, 40))} is not the agent's name ${JSON.stringify(name)}; nothing was deleted`, { field: 'confirm' });
  }
}

/**
 * Deletes a destroyed agent for good: its repo, its agent dir (state, config, token) and what other
 * parts keep of it (transcripts, stats points: purgeSteps), then its record, so the name is free.
 * Only an operator, only a kept agent, only confirmed with its name. The audit row (with the final
 * applied SHA) is written first, so a crash midway still leaves the record; the reconciliation log
 * and audit trail of the agent stay.
 */
export async function purge(d: LifecycleDeps, name: string, confirm: unknown, by: Identity): Promise<PurgeResult> {
  if (by.kind !== 'operator') throw new HyperhiveError('forbidden', `only an operator purges an agent; ${by.kind} ${by.name} may not`);
  assertCan(d.requireAgent(name), 'purge');
  assertPurgeConfirmed(name, confirm);
  return d.exclusive(name, async () => {
    // A revive approved while this waited for the slot wins: the agent runs again.
    assertCan(d.requireAgent(name), 'purge');
    const repo = d.paths.repo(name);
    const refs = await readRefs(repo).catch(() => ({ applied: null, proposed: null, live: null }));
    const stateBytes = await dirSize(d.paths.state(name));
    const kept = keptInfo(d.log, name);
    const now = (d.now ?? Date.now)();
    const expired = d.store.atomically(() => {
      d.log.audit({ actor: by.name, action: 'purge', agent: name, head: refs.applied, data: { proposed: refs.proposed, live: refs.live, stateBytes, destroyedAt: kept?.at ?? null, destroyedBy: kept?.by ?? null } });
      return expireOpen(d, name, by.name, `agent ${name} was purged by ${by.name}`, now);
    });
    d.log.info(name, 'purge-started', `purge of ${name} by ${by.name}: deleting its repo (applied ${short(refs.applied)}) and state (${humanBytes(stateBytes)})`);
    // Nothing runs for a kept agent; a stop makes sure before its files go.
    await d.runtime.stop(name).catch(() => undefined);
    fs.rmSync(repo, { recursive: true, force: true });
    fs.rmSync(d.paths.agentDir(name), { recursive: true, force: true });
    const removed: Record<string, number> = {};
    for (const step of d.purgeSteps) {
      try { removed[step.what] = step.run(name) ?? 0; } catch (e) { d.log.warn(name, 'purge-step-failed', `purge of ${name}: could not delete its ${step.what}: ${(e as Error).message}`); }
    }
    d.loop.forget(name);
    d.tokens.removeIdentity({ kind: 'agent', name });
    d.agents.remove(name);
    d.log.info(name, 'purged', `agent ${name} purged by ${by.name}: repo, state${Object.keys(removed).length ? `, ${Object.keys(removed).join(', ')}` : ''} deleted; final applied ${short(refs.applied)}; its log and audit trail stay, and the name is free`, { applied: refs.applied, stateBytes, removed });
    for (const a of expired) d.events.publish({ type: 'request.decided', agent: name, id: a.id, kind: a.kind, status: 'expired', by: 'controller' });
    d.events.publish({ type: 'agent.changed', agent: name, what: 'state' });
    d.events.publish({ type: 'agent.lifecycle', agent: name, what: 'purged', by: by.name, approvalId: null });
    return { agent: name, applied: refs.applied, stateBytes, removed };
  });
}
