import { MANAGER } from './names.ts';

/** The bus as the stuck detector uses it (structural: feature-detected on the controller). */
export interface StuckBus {
  depth(recipient: string): number;
  send(input: { from: string; to: string; kind?: string; body: string }): unknown;
  /** Oldest first with `since`; used to find when the oldest waiting message came. */
  list?(o: { recipient?: string; unacked?: boolean; since?: number; limit?: number }): { createdAt: number }[];
}

export interface StuckInput {
  now: number;
  /** Un-acked messages for the agent. */
  depth: number;
  /** When the agent last reported a turn (null: never). */
  lastTurnAt: number | null;
  /** When the oldest waiting message was sent (null: unknown). */
  oldestWaitingAt: number | null;
  /** When the detector first saw the inbox non-empty in this episode. */
  nonEmptySince: number;
  thresholdMs: number;
}

/**
 * Stuck: messages have waited longer than the threshold and no turn came since they started
 * waiting; pure. Returns how long it has waited, or null when not stuck.
 */
export function stuckFor(i: StuckInput): number | null {
  if (i.depth <= 0) return null;
  const waitingSince = Math.max(i.oldestWaitingAt ?? i.nonEmptySince, i.lastTurnAt ?? 0);
  const waited = i.now - waitingSince;
  return waited >= i.thresholdMs ? waited : null;
}

export interface StuckDetectorDeps {
  bus: () => StuckBus | null;
  /** Active, not suspended agents. */
  agents: () => string[];
  lastTurnAt: (agent: string) => number | null;
  setStuck: (agent: string, message: string) => boolean;
  clearStuck: (agent: string) => boolean;
  log: (agent: string, message: string) => void;
  thresholdMs?: number;
  now?: () => number;
}

const minutes = (ms: number): string => `${Math.round(ms / 60_000)} min`;

/**
 * Checks every agent's inbox against its last turn. An agent that becomes stuck gets Stalled/Stuck
 * and the manager (the operator, when the manager itself is stuck) one `system` message per episode;
 * the episode ends when a turn comes or the inbox empties.
 */
export class StuckDetector {
  readonly thresholdMs: number;
  private readonly now: () => number;
  private nonEmptySince = new Map<string, number>();
  private notified = new Set<string>();

  constructor(private readonly d: StuckDetectorDeps) {
    this.thresholdMs = d.thresholdMs ?? 15 * 60_000;
    this.now = d.now ?? Date.now;
  }

  /** One pass over the agents; returns the agents found stuck. */
  check(): string[] {
    const bus = this.d.bus();
    if (!bus) return [];
    const now = this.now();
    const stuck: string[] = [];
    for (const agent of this.d.agents()) {
      let depth: number;
      try { depth = bus.depth(agent); } catch { continue; }
      if (depth <= 0) { this.end(agent); continue; }
      if (!this.nonEmptySince.has(agent)) this.nonEmptySince.set(agent, now);
      let oldest: number | null = null;
      try { oldest = bus.list?.({ recipient: agent, unacked: true, since: 0, limit: 1 })[0]?.createdAt ?? null; } catch { /* keep null */ }
      const waited = stuckFor({ now, depth, lastTurnAt: this.d.lastTurnAt(agent), oldestWaitingAt: oldest, nonEmptySince: this.nonEmptySince.get(agent)!, thresholdMs: this.thresholdMs });
      if (waited === null) { if (this.notified.has(agent)) this.end(agent); continue; }
      stuck.push(agent);
      const message = `${depth} message(s) waiting for ${minutes(waited)} without a turn (threshold ${minutes(this.thresholdMs)})`;
      this.d.setStuck(agent, message);
      if (this.notified.has(agent)) continue;
      this.notified.add(agent);
      this.d.log(agent, `stuck: ${message}`);
      const to = agent === MANAGER ? 'operator' : MANAGER;
      try {
        bus.send({ from: 'system', to, kind: 'event', body: `Agent ${agent} looks stuck: ${message}. It is marked Stalled (reason Stuck) until it takes a turn or its inbox empties.` });
      } catch (e) { this.d.log(agent, `stuck: could not tell ${to}: ${(e as Error).message}`); }
    }
    return stuck;
  }

  /** A turn came (or the inbox emptied): the episode is over. */
  end(agent: string): void {
    this.nonEmptySince.delete(agent);
    this.notified.delete(agent);
    this.d.clearStuck(agent);
  }
}
