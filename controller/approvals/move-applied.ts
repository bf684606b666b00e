import type { ReconLog } from '../log.ts';
import { casRef } from '../../repos/refs.ts';

/**
 * Why `applied` may point at a commit: the audit actions that sanction it. An `applied` that no row
 * of one of these put there is "moved outside" and never runs. The one list: the reconciler's
 * sanction check, repair's search for the last good revision and moveApplied all read it.
 */
export const SANCTIONING = ['approve', 'approve-spawn', 'approve-revive', 'fast-forward', 'create-applied', 'repair'] as const;
export type SanctionReason = (typeof SANCTIONING)[number];

export interface MoveAppliedDeps {
  repo: (agent: string) => string;
  log: ReconLog;
}

export interface MoveOptions {
  approvalId?: number | null;
  patchHash?: string | null;
  note?: string | null;
  data?: Record<string, unknown>;
}

export type MoveApplied = (agent: string, from: string | null, to: string, reason: SanctionReason, by: string, o?: MoveOptions) => Promise<void>;

/**
 * The only function that moves `applied`: its audit row first (so a crash between the two leaves a
 * sanctioned target, never an unsanctioned `applied`), then a compare-and-swap from `from` (null:
 * the ref must not exist). The row is written once: an approval's decision row already is it.
 * A failed swap throws casRef's `ref_moved` (naming what `applied` is now) or `git_failed`.
 */
export function appliedMover(d: MoveAppliedDeps): MoveApplied {
  return async (agent, from, to, reason, by, o = {}) => {
    const row = { actor: by, action: reason, agent, approvalId: o.approvalId ?? null, base: from, head: to, patchHash: o.patchHash ?? null, reason: o.note ?? null, data: o.data };
    if (!d.log.hasAudit(row)) d.log.audit(row);
    await casRef(d.repo(agent), 'applied', to, from, { pusher: by });
  };
}
