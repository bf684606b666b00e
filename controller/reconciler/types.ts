import type { AgentState } from '../agents/store.ts';
import type { ApprovalKind } from '../approvals/store.ts';
import type { RuntimeState } from '../runtime/types.ts';

export interface Condition { type: 'Ready' | 'Reconciling' | 'Stalled'; status: 'True' | 'False'; reason: string; message: string }

/** Everything the planner may look at, read once per pass. Pure data: plan() never does I/O. */
export interface Observed {
  now: number;
  agent: { name: string; state: AgentState; suspended: boolean };
  refs: { applied: string | null; proposed: string | null };
  /** Tree SHAs; null where the ref is missing or its commit cannot be read. */
  trees: { applied: string | null; proposed: string | null };
  objectsError: string | null;
  /** applied is an ancestor of (or equal to) proposed. */
  proposedDescends: boolean;
  openRequest: { id: number; base: string | null; head: string | null; status: 'pending' | 'diverged' } | null;
  /** Other open change requests, older than openRequest: there must be none, so they are superseded. */
  olderOpen: number[];
  /** A request for exactly (applied, proposed) was rejected: not raised again. */
  rejectedPair: boolean;
  /** The oldest approved request of any kind not yet carried out (the controller died in between). */
  approvedIncomplete: { id: number; kind: ApprovalKind } | null;
  /** What runs (`revision`) and what is being prepared beside it (`building`). */
  runtime: { state: RuntimeState; revision: string | null; building: string | null };
  /** The revision the reconciler holds prepared, ready to activate. */
  prepared: string | null;
  /** Backoff after failed runtime applies. */
  failures: number;
  nextAttemptAt: number | null;
  lastApplied: string | null;
  /** `applied` points at a commit some approval, fast-forward, creation or repair put there. */
  appliedSanctioned: boolean;
  /** The newest sanctioned applied revision (where repair would move it back to). */
  lastSanctioned: string | null;
  /** The last prepare (build) that failed, while no later one succeeded: shown as Stalled/BuildFailed. */
  buildFailure: { revision: string; error: string; logTail: string } | null;
  /** Crashes of the running revision within the window (CrashLoop at `limit`); `oldestAt` leaves the window first. */
  crashes: { recent: number; limit: number; windowMs: number; oldestAt: number | null };
}

export type Action =
  | { type: 'complete-approval'; id: number; kind: ApprovalKind }
  | { type: 'fast-forward'; from: string; to: string }
  | { type: 'supersede'; id: number; reason: string; by?: number }
  | { type: 'raise'; base: string; head: string; status: 'pending' | 'diverged'; supersedes: number | null }
  /** Slow, outside the agent's slot: the old revision runs on meanwhile. */
  | { type: 'prepare-runtime'; revision: string; reason: string }
  /** Fast, inside the slot: stop, swap, start. */
  | { type: 'activate-runtime'; revision: string }
  | { type: 'discard-prepared'; revision: string; reason: string }
  | { type: 'stop-runtime'; reason: string };

export interface Plan { actions: Action[]; conditions: Condition[]; requeueAt: number | null }
