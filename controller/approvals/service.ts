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
  /** The quorum a request needs (one vote decides until the quorum rules exist). */
  policy?: (a: Approval) => QuorumPolicy;
  now?: () => number;
}

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
        const v = this.record(a, by.name, 'approve', note ?? null, h);
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
      this.record(a, by.name, 'reject', reason, h);
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

  /** The vote and, when it decides, the decision and its audit row: one transaction. */
  private record(a: Approval, by: string, decision: 'approve' | 'reject', text: string | null, h: KindHandler | undefined): Verdict {
    return this.d.store.atomically(() => {
      this.d.store.vote(a.id, by, decision, text);
      const votes = this.d.store.votes(a.id).map((v) => ({ by: v.voter, decision: v.decision, at: v.at }));
      const v = decide(votes, (this.d.policy ?? (() => ONE_VOTE))(a));
      const audit = { actor: by, agent: a.agent, approvalId: a.id, base: a.base, head: a.head, patchHash: a.patchHash, reason: text };
      if (v.status === 'approved') {
        this.d.store.update(a.id, { status: 'approved', decidedBy: by, decidedAt: this.now(), note: text ?? a.note });
        this.d.log.audit({ ...audit, action: a.kind === 'change' ? 'approve' : h?.auditAction ?? `approve-${a.kind}` });
      } else if (v.status === 'rejected') {
        this.d.store.update(a.id, { status: 'rejected', decidedBy: by, decidedAt: this.now(), reason: text });
        this.d.log.audit({ ...audit, action: 'reject' });
      } else {
        this.d.log.audit({ ...audit, action: 'vote', data: { approvals: v.approvals, required: v.required } });
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

