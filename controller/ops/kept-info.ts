import type { ReconLog } from '../log.ts';

/** What the operator reads about a destroyed (kept) agent: when, by whom, why, its state's size and applied revision then. */
export interface KeptInfo {
  at: number;
  by: string;
  stateBytes: number;
  applied: string | null;
  reason: string | null;
  /** Who asked for it, when the destroy was a request (the manager) that `by` approved. */
  requestedBy: string | null;
  approvalId: number | null;
}

/** From the agent's last `destroy` audit row (the one record of it: a restart keeps it). */
export function keptInfo(log: Pick<ReconLog, 'auditTrail'>, agent: string): KeptInfo | null {
  const row = log.auditTrail({ agent, action: 'destroy', limit: 1 })[0];
  if (!row) return null;
  const d = row.data as { stateBytes?: unknown; requestedBy?: unknown };
  return {
    at: row.ts, by: row.actor, stateBytes: typeof d.stateBytes === 'number' ? d.stateBytes : 0, applied: row.head, reason: row.reason,
    requestedBy: typeof d.requestedBy === 'string' ? d.requestedBy : null, approvalId: row.approvalId,
  };
}
