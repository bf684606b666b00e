import type { ApprovalKind, ApprovalStatus } from './approvals/store.ts';
import type { LogEntry } from './log.ts';
import type { RuntimeEvent, RuntimeHealth } from './runtime/types.ts';
import type { StoredTranscriptEvent } from './transcripts/types.ts';

/**
 * Everything that happened in the controller, as one typed union. Producers publish; the SSE stream,
 * the system messages, stats and the approval kinds' follow-ups subscribe. Control flow never rides on
 * a UI event: a consumer reacts to a domain fact (a request was decided), not to "something changed".
 */
export type DomainEvent =
  | { type: 'request.raised'; agent: string; id: number; kind: ApprovalKind }
  | { type: 'request.superseded'; agent: string; id: number; by: number | null }
  /** A request's data changed without a decision: its config verdict, a completion after a restart. */
  | { type: 'request.updated'; agent: string; id: number }
  | { type: 'request.decided'; agent: string; id: number; kind: ApprovalKind; status: Extract<ApprovalStatus, 'approved' | 'rejected' | 'failed' | 'expired'>; by: string | null }
  | { type: 'agent.changed'; agent: string; what: AgentChange }
  /** The agent was destroyed (kept), revived or purged; `approvalId`: the request it carried out, null for an operator's own act. */
  | { type: 'agent.lifecycle'; agent: string; what: 'destroyed' | 'revived' | 'purged'; by: string; approvalId: number | null }
  /** An operator resumed the agent: it also clears stalls the harness reported (auth, missing CLI, stuck). */
  | { type: 'agent.resumed'; agent: string; by: string }
  | { type: 'runtime'; agent: string; event: RuntimeEvent }
  /** The runtime's watcher (the nspawn runtime's D-Bus connection) lost or regained its bus. */
  | { type: 'runtime.health'; health: RuntimeHealth }
  | { type: 'message'; id: number; from: string; to: string; kind: string }
  | { type: 'turn'; agent: string; ok: boolean }
  /** An event of a turn in progress, as stored (the agent page follows the turn with these). */
  | { type: 'transcript.event'; agent: string; turn: number; event: StoredTranscriptEvent }
  /** A turn's report reached its transcript: the turn is over. */
  | { type: 'transcript.finished'; agent: string; turn: number; class: string }
  | { type: 'log'; entry: LogEntry }
  /** A named operator was added or revoked (a revoked one's sessions end). */
  | { type: 'operator.changed'; name: string; what: 'added' | 'revoked'; by: string }
  /** The quorum rules (<state>/policy.json) were loaded, or a bad file was refused (`error`). */
  | { type: 'policy.changed'; error: string | null };

/** What about an agent changed: its record, its `live` branch, or its reconciled status and conditions. */
export type AgentChange = 'created' | 'state' | 'suspended' | 'live' | 'status';

export type DomainEventType = DomainEvent['type'];
export type EventOf<T extends DomainEventType> = Extract<DomainEvent, { type: T }>;
type Listener = (e: DomainEvent) => void;

/**
 * The one event stream. Delivery is synchronous and in publish order; a throwing listener is reported
 * (to `onListenerError`) and never stops the others or the publisher.
 */
export class EventStream {
  private listeners = new Set<Listener>();
  constructor(private readonly onListenerError: (e: unknown, ev: DomainEvent) => void = defaultListenerError) {}

  publish(e: DomainEvent): void {
    for (const l of [...this.listeners]) {
      try { l(e); } catch (err) { this.onListenerError(err, e); }
    }
  }

  /** Every event; returns the unsubscribe function. */
  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => { this.listeners.delete(fn); };
  }

  /** Events of one type, typed; returns the unsubscribe function. */
  on<T extends DomainEventType>(type: T, fn: (e: EventOf<T>) => void): () => void {
    return this.subscribe((e) => { if (e.type === type) fn(e as EventOf<T>); });
  }

  get size(): number { return this.listeners.size; }
}

function defaultListenerError(err: unknown, ev: DomainEvent): void {
  // Not the reconciliation log: a log listener failing would recurse.
  process.stderr.write(`${JSON.stringify({ ts: new Date().toISOString(), level: 'error', event: 'event-listener', type: ev.type, msg: (err as Error)?.message ?? String(err) })}\n`);
}
