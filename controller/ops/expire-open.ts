import { OPEN_STATUSES, type Approval } from '../approvals/store.ts';
import type { LifecycleDeps } from './lifecycle-deps.ts';

/**
 * Ends the agent's open requests when it goes away (destroy, purge): a change, spawn, tool or lifecycle
 * request of an agent that no longer runs cannot be carried out, so each is `expired` with the reason,
 * never left for an operator to approve against a kept repo. A change still in `proposed` is raised
 * again as a new request if the agent is revived. Call inside a transaction with the state change.
 */
export function expireOpen(d: Pick<LifecycleDeps, 'store' | 'log'>, agent: string, by: string, why: string, at: number): Approval[] {
  const open = d.store.list({ agent, status: OPEN_STATUSES });
  for (const a of open) {
    d.store.update(a.id, { status: 'expired', decidedBy: 'controller', decidedAt: at, reason: why });
    d.log.info(agent, 'request-expired', `${a.kind} request #${a.id} expired: ${why}`, { approval: a.id, kind: a.kind });
    d.log.audit({ actor: by, action: 'expire', agent, approvalId: a.id, base: a.base, head: a.head, reason: why, data: { kind: a.kind } });
  }
  return open;
}
