import type { Identity } from '../auth/index.ts';
import { HyperhiveError } from '../errors.ts';
import type { EventStream } from '../events.ts';
import type { ReconLog } from '../log.ts';
import { decide, ONE_VOTE, type QuorumPolicy, type Verdict } from './decide.ts';
import { OPEN_STATUSES, type Approval, type ApprovalKind, type ApprovalStore } from './store.ts';

/**
 * What a kind of request does when it is decided. Every method runs in the agent's queue slot, so it
 * sees the refs and state it checks; the service records the decision around it.
 */
export interface KindHandler {
  /** Refuses (throws a HyperhiveError) a request that cannot be approved now, before any vote is recorded. */
  check?(a: Approval): Promise<void>;
  /** Carries an approved request out, right after the decision is recorded. Returns a summary for the log. */
  approved(a: Approval, by: string): Promise<string | void>;
  /**
   * Completes an approved request whose effect a crash cut short (the reconciler calls it on its next
   * pass). Idempotent: it may find the effect done already. Throwing fails the request with the message.
   */
  complete(a: Approval): Promise<string | void>;
  /** After a rejection. */
  rejected?(a: Approval, by: string): Promise<void>;
  /** The audit action of the approving decision (default `approve-<kind>`). */
  auditAction?: string;
  /** More for the decision's audit row (a tool call's input, how long it waited). */
  auditData?(a: Approval, at: number): Record<string, unknown>;
}

/** The per-agent slot and wake-up the service needs from the reconciler's loop. */
export interface AgentLocks {
  exclusive<T>(agent: string, fn: () => Promise<T>): Promise<T>;
  enqueue(agent: string): void;
}

export interface ApprovalServiceDeps {
  store: ApprovalStore;
  log: ReconLog;
  events: EventStream;
  locks: AgentLocks;
  /** The quorum a request needs (the rules of policy.json; one vote decides without them). */
  policy?: (a: Approval) => QuorumPolicy;
  /**
   * Who proposed a request: its proposer and everyone who pushed one of its commits. Their approvals
   * do not count toward a quorum of more than one (default: the request's proposer).
   */
  proposers?: (a: Approval) => Promise<string[]>;
  now?: () => number;
}

/** A vote as approval objects show it. */
export interface VoteView { by: string; decision: 'approve' | 'reject'; reason: string | null; at: number }
/** An approval object as the API returns it: the request, its votes so far and the quorum it needs. */
export type ApprovalView = Approval & { votes: VoteView[]; required: number; tool?: unknown };

const label = (a: Approval): string => (a.kind === 'change' ? `request #${a.id}` : `${a.kind} request #${a.id}`);

/**
 * Votes, decisions and their effects, for every kind of request: the vote → decide → audit
 * transaction exists once, here, and each kind says only what approving, completing and rejecting
 * it does (its KindHandler).
 */
export class ApprovalService {
  private handlers = new Map<ApprovalKind, KindHandler>();
  private readonly now: () => number;
  constructor(private readonly d: ApprovalServiceDeps) { this.now = d.now ?? Date.now; }

  register(kind: ApprovalKind, h: KindHandler): void { this.handlers.set(kind, h); }

  /** The quorum a request needs now (a decided one: what it needed when it was decided). */
  required(a: Approval): number {
    if (typeof a.data.required === 'number' && a.status !== 'pending' && a.status !== 'diverged') return a.data.required;
    return Math.max(1, Math.floor((this.d.policy ?? (() => ONE_VOTE))(a).required));
  }

  /** The request with its votes and quorum (the Contract's approval object). */
  view(a: Approval): ApprovalView {
    const votes = this.d.store.votes(a.id).map((v) => ({ by: v.voter, decision: v.decision, reason: v.reason, at: v.at }));
    return { ...a, votes, required: this.required(a), ...(a.kind === 'tool' ? { tool: a.data.tool ?? null } : {}) };
  }

  get(id: number): Approval {
    const a = Number.isSafeInteger(id) && id > 0 ? this.d.store.get(id) : null;
    if (!a) throw new HyperhiveError('approval_not_found', `no request #${id}`, { id });
    return a;
  }

  private handler(a: Approval): KindHandler {
    const h = this.handlers.get(a.kind);
    if (!h) throw new HyperhiveError('bad_request', `request #${a.id} is a ${a.kind} request, which this controller cannot decide`, { id: a.id, kind: a.kind });
    return h;
  }

  /** An operator's approval. With the quorum reached the request is approved and carried out; otherwise the vote waits for more. */
  async approve(id: number, by: Identity, note?: string): Promise<Approval> {
    this.operatorOnly(by);
    const first = this.get(id);
    const h = this.handler(first);
    let verdict: Verdict | null = null;
    try {
      return await this.d.locks.exclusive(first.agent, async () => {
        const a = this.get(id);
        if (a.status !== 'pending') throw notPending(a);
        await h.check?.(a);
        const policy = await this.policyFor(a);
        // One operator's approval counts once: a second one is refused, saying what the request still needs.
        const mine = this.d.store.votes(id).find((v) => v.voter === by.name && v.decision === 'approve');
        if (mine) {
          const have = decide(this.d.store.votes(id).map((v) => ({ by: v.voter, decision: v.decision, at: v.at })), policy);
          const left = have.status === 'pending' ? have.required - have.approvals : 0;
          throw new HyperhiveError('conflict', `${by.name} already approved ${label(a)}; the same operator counts once${left ? `: it needs ${left} more approval${left > 1 ? 's' : ''} from another operator` : ''}`, { id, required: policy.required });
        }
        if (policy.excluded?.includes(by.name)) {
          throw new HyperhiveError('forbidden', `${by.name} proposed ${label(a)} (or pushed a commit of it): under its quorum of ${policy.required} approvals another operator must approve it; the proposer's own approval does not count`, { id, required: policy.required });
        }
        const v = this.record(a, by.name, 'approve', note ?? null, h, policy);
        verdict = v;
        if (v.status === 'pending') {
          this.d.log.info(a.agent, 'voted', `${label(a)}: approval ${v.approvals} of ${v.required} by ${by.name}`, { approval: id, by: by.name });
          return this.get(id);
        }
        let summary: string | void;
        try {
          summary = await h.approved(this.get(id), by.name);
        } catch (e) {
          this.fail(a, `approved by ${by.name} but not carried out: ${(e as Error).message}`);
          throw e;
        }
        this.d.store.markCompleted(id);
        this.d.log.info(a.agent, 'approved', `${label(a)} approved by ${by.name}${summary ? `: ${summary}` : ''}`, { approval: id, kind: a.kind, base: a.base, head: a.head, by: by.name });
        return this.get(id);
      });
    } finally {
      if (verdict) this.settle(first, (verdict as Verdict).status === 'approved' ? by.name : null);
    }
  }

  /** An operator's rejection: decides at once (any "no" stops a request) and is not raised again for the pair. */
  async reject(id: number, by: Identity, reason: string): Promise<Approval> {
    this.operatorOnly(by);
    const first = this.get(id);
    const h = this.handlers.get(first.kind);
    const result = await this.d.locks.exclusive(first.agent, async () => {
      const a = this.get(id);
      if (!OPEN_STATUSES.includes(a.status)) throw notPending(a);
      this.record(a, by.name, 'reject', reason, h, { required: this.required(a) });
      this.d.log.info(a.agent, 'rejected', `${label(a)} rejected by ${by.name}: ${reason}`, { approval: id, by: by.name });
      await h?.rejected?.(this.get(id), by.name);
      return this.get(id);
    });
    this.settle(first, by.name);
    return result;
  }

  /**
   * Carries out an approved request a crash left incomplete, through its kind's handler. Called by the
   * reconciler inside the agent's slot; a failure marks the request failed with the reason.
   */
  async complete(id: number): Promise<Approval> {
    const a = this.get(id);
    if (a.status !== 'approved' || a.data.applied) return a;
    const h = this.handlers.get(a.kind);
    if (!h) { this.fail(a, `no handler for ${a.kind} requests in this controller`); return this.get(id); }
    try {
      const summary = await h.complete(a);
      this.d.store.markCompleted(id);
      this.d.log.info(a.agent, 'approval-completed', `${label(a)} (approved by ${a.decidedBy ?? 'an operator'}) completed after a restart${summary ? `: ${summary}` : ''}`, { approval: id, kind: a.kind });
      this.d.events.publish({ type: 'request.updated', agent: a.agent, id });
    } catch (e) {
      this.fail(a, (e as Error).message);
      this.d.events.publish({ type: 'request.decided', agent: a.agent, id, kind: a.kind, status: 'failed', by: a.decidedBy });
    }
    return this.get(id);
  }

  /** The quorum of a request and, when it needs more than one approval, whose approvals do not count. */
  private async policyFor(a: Approval): Promise<QuorumPolicy> {
    const required = this.required(a);
    if (required <= 1) return { required };
    const proposers = this.d.proposers ? await this.d.proposers(a) : [];
    return { required, excluded: [...new Set([...(a.proposer ? [a.proposer] : []), ...proposers])] };
  }

  /** The vote and, when it decides, the decision and its audit row: one transaction. */
  private record(a: Approval, by: string, decision: 'approve' | 'reject', text: string | null, h: KindHandler | undefined, policy: QuorumPolicy): Verdict {
    return this.d.store.atomically(() => {
      this.d.store.vote(a.id, by, decision, text);
      const votes = this.d.store.votes(a.id).map((v) => ({ by: v.voter, decision: v.decision, at: v.at }));
      const v = decide(votes, policy);
      const at = this.now();
      const audit = { actor: by, agent: a.agent, approvalId: a.id, base: a.base, head: a.head, patchHash: a.patchHash, reason: text };
      const extra = { ...h?.auditData?.(a, at), ...(policy.required > 1 ? { required: policy.required } : {}) };
      // What the request needed when it was decided stays with it, whatever the rules say later.
      const data = { ...a.data, required: policy.required };
      if (v.status === 'approved') {
        this.d.store.update(a.id, { status: 'approved', decidedBy: by, decidedAt: at, note: text ?? a.note, data });
        this.d.log.audit({ ...audit, action: a.kind === 'change' ? 'approve' : h?.auditAction ?? `approve-${a.kind}`, data: { ...extra, ...(v.by.length > 1 ? { approvers: v.by } : {}) } });
      } else if (v.status === 'rejected') {
        this.d.store.update(a.id, { status: 'rejected', decidedBy: by, decidedAt: at, reason: text, data });
        this.d.log.audit({ ...audit, action: a.kind === 'tool' ? 'reject-tool' : 'reject', data: extra });
      } else {
        this.d.log.audit({ ...audit, action: 'vote', data: { ...extra, approvals: v.approvals, required: v.required } });
      }
      return v;
    });
  }

  private fail(a: Approval, error: string): void {
    this.d.store.update(a.id, { status: 'failed', error });
    this.d.log.error(a.agent, 'approval-failed', `${label(a)}: ${error}`, { approval: a.id, kind: a.kind });
  }

  /** After a decision left the slot: tell subscribers what it became, and let the reconciler look again. */
  private settle(first: Approval, by: string | null): void {
    const a = this.d.store.get(first.id)!;
    if (a.status === 'approved' || a.status === 'rejected' || a.status === 'failed') {
      this.d.events.publish({ type: 'request.decided', agent: a.agent, id: a.id, kind: a.kind, status: a.status, by: by ?? a.decidedBy });
    } else {
      this.d.events.publish({ type: 'request.updated', agent: a.agent, id: a.id });
    }
    this.d.locks.enqueue(a.agent);
  }

  private operatorOnly(by: Identity): void {
    if (by.kind !== 'operator') throw new HyperhiveError('forbidden', `only an operator decides requests; ${by.kind} ${by.name} may not`);
  }
}

export function notPending(a: Approval): HyperhiveError {
  const by = a.supersededBy ? ` by request #${a.supersededBy}` : '';
  const who = a.decidedBy ? ` by ${a.decidedBy}` : '';
  return new HyperhiveError('not_pending', `request #${a.id} is ${a.status}${a.status === 'superseded' ? by : who}; only a pending request can be decided`, { id: a.id, status: a.status, supersededBy: a.supersededBy });
}

