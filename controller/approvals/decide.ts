/** One operator's say on a request. */
export interface Vote { by: string; decision: 'approve' | 'reject'; at: number }

/**
 * How many distinct operators must approve, and whose approvals do not count toward it: the
 * proposer(s) of the change (everyone who pushed a commit of it) when more than one is required.
 */
export interface QuorumPolicy { required: number; excluded?: readonly string[] }
export const ONE_VOTE: QuorumPolicy = { required: 1 };

export type Verdict =
  | { status: 'approved'; by: string[] }
  | { status: 'rejected'; by: string }
  | { status: 'pending'; approvals: number; required: number };

/**
 * What the votes so far decide, and nothing else: any rejection rejects (one operator's "no" is
 * enough to stop a change), and `required` distinct approvers approve; an excluded voter's approval
 * (the change's own proposer) never counts. Pure.
 */
export function decide(votes: readonly Vote[], policy: QuorumPolicy): Verdict {
  const no = votes.find((v) => v.decision === 'reject');
  if (no) return { status: 'rejected', by: no.by };
  const excluded = new Set(policy.excluded ?? []);
  const approvers = [...new Set(votes.filter((v) => v.decision === 'approve' && !excluded.has(v.by)).map((v) => v.by))];
  const required = Math.max(1, Math.floor(policy.required));
  return approvers.length >= required ? { status: 'approved', by: approvers } : { status: 'pending', approvals: approvers.length, required };
}
