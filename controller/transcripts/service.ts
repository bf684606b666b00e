import type { AgentRecord } from '../agents/store.ts';
import { HyperhiveError } from '../errors.ts';
import type { EventStream } from '../events.ts';
import type { TurnReport } from '../harness/io.ts';
import type { ReconLog } from '../log.ts';
import { TranscriptStore, type TurnQuery } from './store.ts';
import type { TurnSummary, TurnTranscript } from './types.ts';
import { validateTurnEvents } from './validate.ts';

export interface TranscriptsDeps {
  store: TranscriptStore;
  events: EventStream;
  log: ReconLog;
  requireAgent: (name: string) => AgentRecord;
}

/**
 * The turns' transcripts: what the harness streams is checked, stored and published (one domain
 * event per stored event, so the agent page follows the turn live); reports close them; readers
 * list and fetch them.
 */
export class Transcripts {
  readonly store: TranscriptStore;
  /** Turns already warned about for dropping events: one log line per turn. */
  private warned = new Set<number>();
  constructor(private readonly d: TranscriptsDeps) { this.store = d.store; }

  /** `POST /api/agents/<own>/turns/events`: 201 `{turn, seq, stored, dropped}`. */
  record(agent: string, body: unknown): { turn: number; seq: number; stored: number; dropped: number } {
    this.d.requireAgent(agent);
    const b = validateTurnEvents(body);
    const r = this.d.store.append(agent, b.turn, Date.parse(b.startedAt), b.events);
    if (r.created) this.d.log.info(agent, 'turn-started', `turn ${r.id} started`, { turn: r.id });
    if (r.dropped && !this.warned.has(r.id)) {
      this.warned.add(r.id);
      if (this.warned.size > 1000) this.warned.clear();
      this.d.log.warn(agent, 'transcript-truncated', `turn ${r.id}: events past the transcript budget of ${this.d.store.retention.maxBytes} bytes are not kept`, { turn: r.id });
    }
    for (const event of r.stored) this.d.events.publish({ type: 'transcript.event', agent, turn: r.id, event });
    return { turn: r.id, seq: r.stored.at(-1)?.seq ?? 0, stored: r.stored.length, dropped: r.dropped };
  }

  /** A turn report reached the controller: its transcript (made if none was streamed) gets its figures. */
  finish(agent: string, key: string, r: TurnReport): number {
    const id = this.d.store.finish(agent, key, r);
    this.d.events.publish({ type: 'transcript.finished', agent, turn: id, class: r.class });
    return id;
  }

  list(agent: string, q: TurnQuery = {}): TurnSummary[] {
    this.d.requireAgent(agent);
    return this.d.store.list(agent, q);
  }

  get(agent: string, id: number, o: { after?: number } = {}): TurnTranscript {
    this.d.requireAgent(agent);
    const t = this.d.store.get(agent, id, o);
    if (!t) throw new HyperhiveError('not_found', `agent ${agent} has no turn ${id} (transcripts are kept for the last ${this.d.store.retention.maxTurns} turns or ${this.d.store.retention.maxBytes} bytes)`, { agent, id });
    return t;
  }

  running(agent: string): TurnSummary | null { return this.d.store.running(agent); }
}
