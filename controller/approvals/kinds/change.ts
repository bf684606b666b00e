import { HyperhiveError } from '../../errors.ts';
import type { StatusStore } from '../../reconciler/status.ts';
import { isAncestor, readRefs } from '../../../repos/refs.ts';
import type { MoveApplied } from '../move-applied.ts';
import type { KindHandler } from '../service.ts';
import type { Approval, ApprovalStore } from '../store.ts';

export interface ChangeKindDeps {
  repo: (agent: string) => string;
  store: ApprovalStore;
  status: StatusStore;
  moveApplied: MoveApplied;
  /** Evaluates a config revision; a config that does not evaluate cannot be approved. */
  checkConfig?: (repo: string, revision: string) => Promise<{ ok: boolean; error: string | null }>;
  now?: () => number;
}

const short = (s: string | null | undefined): string => (s ? s.slice(0, 7) : 'none');

/**
 * A change request: the net change applied..proposed. Approving it moves `applied` base→head, only
 * while both refs are still exactly the request's pair and its config evaluates.
 */
export function changeKind(d: ChangeKindDeps): KindHandler {
  const now = d.now ?? Date.now;
  const moved = (a: Approval, op: string, message: string) =>
    d.status.update(a.agent, (s) => { s.lastAppliedRevision = a.head; s.history.push({ ts: now(), op, revision: a.head, result: 'ok', message }); });

  return {
    async check(a) {
      const repo = d.repo(a.agent);
      const refs = await readRefs(repo);
      const stale = staleReason(a, refs, d.store);
      if (stale) throw new HyperhiveError('stale_approval', stale, { id: a.id, base: a.base, head: a.head, applied: refs.applied, proposed: refs.proposed });
      if (d.checkConfig) {
        const check = await d.checkConfig(repo, a.head!);
        if (!check.ok) throw new HyperhiveError('unprocessable', `request #${a.id} cannot be approved: its config does not evaluate: ${check.error}`, { id: a.id });
      }
    },

    async approved(a, by) {
      try {
        await d.moveApplied(a.agent, a.base, a.head!, 'approve', by, { approvalId: a.id, patchHash: a.patchHash });
      } catch (e) {
        throw new HyperhiveError('stale_approval', `applied moved while approving request #${a.id}: ${(e as Error).message}`, { id: a.id });
      }
      moved(a, 'approve', `request #${a.id} approved by ${by}`);
      return `applied ${short(a.base)}→${short(a.head)}`;
    },

    async complete(a) {
      const repo = d.repo(a.agent);
      const { applied } = await readRefs(repo);
      if (!a.head) throw new HyperhiveError('conflict', `request #${a.id} has no head`);
      // The swap happened before the crash (applied is the head, or has moved on from it since).
      if (applied && (applied === a.head || await isAncestor(repo, a.head, applied).catch(() => false))) return `applied already at ${short(applied)}`;
      if (applied !== a.base || !a.base || !(await isAncestor(repo, a.base, a.head).catch(() => false))) {
        throw new HyperhiveError('conflict', `approved head ${short(a.head)} no longer descends from applied ${short(applied)}`);
      }
      await d.moveApplied(a.agent, a.base, a.head, 'approve', a.decidedBy ?? 'controller', { approvalId: a.id, patchHash: a.patchHash });
      moved(a, 'applied-ref', `applied moved to ${short(a.head)} (request #${a.id}, completed after restart)`);
      return `applied ${short(a.base)}→${short(a.head)}`;
    },
  };
}

/** Why a request no longer matches the refs it was raised for, or null while it does. */
export function staleReason(a: Approval, refs: { applied: string | null; proposed: string | null }, store: ApprovalStore): string | null {
  if (refs.applied !== a.base) return `applied moved: request #${a.id} was for base ${short(a.base)}, applied is now ${short(refs.applied)}`;
  if (refs.proposed !== a.head) {
    const newer = store.openChange(a.agent);
    return `proposed moved: request #${a.id} was for ${short(a.head)}, proposed is now ${short(refs.proposed)}${newer && newer.id !== a.id ? ` (see request #${newer.id})` : ''}`;
  }
  return null;
}
