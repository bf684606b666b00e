/** One operator's say on a request. */
export interface Vote { by: string; decision: 'approve' | 'reject'; at: number }

/** How many distinct operators must approve (the quorum rules of a later issue fill it in; 1 today). */
export interface QuorumPolicy { required: number }
export const ONE_VOTE: QuorumPolicy = { required: 1 };

export type Verdict =
  | { status: 'approved'; by: string[] }
  | { status: 'rejected'; by: string }
  | { status: 'pending'; approvals: number; required: number };

/**
 * What the votes so far decide, and nothing else: any rejection rejects (one operator's "no" is
 * enough to stop a change), and `required` distinct approvers approve. Pure.
 */
export function decide(votes: readonly Vote[], policy: QuorumPolicy): Verdict {
  const no = votes.find((v) => v.decision === 'reject');
  if (no) return { status: 'rejected', by: no.by };
  const approvers = [...new Set(votes.filter((v) => v.decision === 'approve').map((v) => v.by))];
  const required = Math.max(1, Math.floor(policy.required));
  return approvers.length >= required ? { status: 'approved', by: approvers } : { status: 'pending', approvals: approvers.length, required };
}
