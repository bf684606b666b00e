import type { Approval } from '../approvals/store.ts';
import type { Identity } from '../auth/index.ts';
import { HyperhiveError } from '../errors.ts';
import { resolveRev } from '../../repos/refs.ts';
import { short, type OpDeps } from './deps.ts';

/**
 * The manager vouches for exactly the head of an agent's open change request: its note goes on the
 * request for the operator who decides. Endorsing approves nothing.
 */
export async function endorse(d: OpDeps, name: string, commit: string, note: string, who: Identity): Promise<Approval> {
  d.requireAgent(name);
  const open = d.store.openChange(name);
  if (!open) throw new HyperhiveError('not_found', `name: ${name} has no open change request (nothing waits for approval)`, { field: 'name' });
  const full = await resolveRev(d.repo(name), commit.toLowerCase());
  if (!full || full !== open.head) {
    throw new HyperhiveError('conflict', `commit: request #${open.id} of ${name} is for head ${short(open.head)}, not ${full ? short(full) : commit}; only its exact head can be endorsed`, { field: 'commit', approval: open.id, head: open.head });
  }
  if (open.status !== 'pending') throw new HyperhiveError('conflict', `request #${open.id} is ${open.status}: only a pending request can be endorsed`);
  const endorsement = { by: who.name, note, at: (d.now ?? Date.now)(), head: full };
  const updated = d.store.atomically(() => {
    const u = d.store.update(open.id, { note: `${who.name}: ${note}`, data: { ...open.data, endorsement } });
    d.log.audit({ actor: who.name, action: 'endorse', agent: name, approvalId: open.id, base: open.base, head: full, reason: note });
    return u;
  });
  d.log.info(name, 'endorsed', `request #${open.id} (${short(full)}) endorsed by ${who.name}: ${note.slice(0, 200)}`, { approval: open.id });
  d.events.publish({ type: 'request.updated', agent: name, id: open.id });
  return updated;
}
