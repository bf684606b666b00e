import type { Approval } from '../approvals/store.ts';
import type { Identity } from '../auth/index.ts';
import { HyperhiveError } from '../errors.ts';
import { assertCan } from '../lifecycle.ts';
import { readRefs } from '../../repos/refs.ts';
import { assertNotManager } from './destroy.ts';
import { dirSize } from './dir-size.ts';
import { short, type LifecycleDeps } from './lifecycle-deps.ts';

/**
 * A `destroy` request (the manager's request_destroy): nothing happens until an operator approves it;
 * then the agent is destroyed as by the operator (approvals/kinds/destroy.ts). Rejecting it leaves the
 * agent as it was. One open destroy request per agent.
 */
export async function requestDestroy(d: LifecycleDeps, name: string, by: Identity, reason: string | null): Promise<Approval> {
  assertNotManager(name, by, 'destroy');
  const rec = d.requireAgent(name);
  assertCan(rec, 'destroy');
  if (reason !== null && (typeof reason !== 'string' || reason.length > 2000)) throw new HyperhiveError('bad_request', 'reason: at most 2000 characters of text', { field: 'reason' });
  const a = await d.exclusive(name, async () => {
    assertCan(d.requireAgent(name), 'destroy');
    const open = d.store.list({ agent: name, kind: 'destroy', status: ['pending'] }).at(-1);
    if (open) throw new HyperhiveError('conflict', `agent ${name} already has destroy request #${open.id} waiting for an operator`, { name, approval: open.id });
    const { applied } = await readRefs(d.paths.repo(name));
    const stateBytes = await dirSize(d.paths.state(name));
    return d.store.atomically(() => {
      const r = d.store.insert({ kind: 'destroy', agent: name, base: null, head: applied, status: 'pending', paths: [], proposer: by.name, data: { reason, stateBytes, state: rec.state } });
      d.log.info(name, 'destroy-requested', `destroy request #${r.id} by ${by.name} for ${name} (applied ${short(applied)})${reason ? `: ${reason.slice(0, 200)}` : ''}; it runs on until an operator approves`, { approval: r.id });
      d.log.audit({ actor: by.name, action: 'request-destroy', agent: name, approvalId: r.id, head: applied, reason });
      return r;
    });
  });
  d.events.publish({ type: 'request.raised', agent: name, id: a.id, kind: 'destroy' });
  return a;
}
