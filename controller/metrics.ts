import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { TurnReport } from './harness/io.ts';
import type { Condition } from './reconciler/types.ts';

export interface MetricsSources {
  /** Every agent with its conditions (read at scrape time). */
  agents: () => Promise<{ name: string; state: string; conditions: Condition[] }[]>;
  /** Un-acked messages per recipient; null where no bus is wired. */
  inboxDepths: () => Record<string, number> | null;
  approvalsPending: () => number;
}

/**
 * The Prometheus figures of `/metrics`, on a registry of their own (never prom-client's global one, so
 * two controllers in one process do not collide). Counters count since this controller started.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly turns: Counter<'agent' | 'class'>;
  private readonly toolCalls: Counter<'agent' | 'tool'>;
  private readonly duration: Histogram<'agent'>;
  private readonly cost: Counter<'agent'>;
  private readonly tokens: Counter<'agent' | 'type'>;
  private readonly sent: Counter<'agent' | 'to'>;
  private readonly compactions: Counter<'agent'>;

  constructor(src: MetricsSources) {
    const registers = [this.registry];
    this.turns = new Counter({ name: 'hyperhive_turns_total', help: 'Turns reported by agent harnesses, by class', labelNames: ['agent', 'class'], registers });
    this.toolCalls = new Counter({ name: 'hyperhive_tool_calls_total', help: 'Tool uses in reported turns', labelNames: ['agent', 'tool'], registers });
    this.duration = new Histogram({
      name: 'hyperhive_turn_duration_seconds', help: 'Duration of reported turns', labelNames: ['agent'], registers,
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1200],
    });
    this.cost = new Counter({ name: 'hyperhive_cost_usd_total', help: 'Cost of reported turns in USD', labelNames: ['agent'], registers });
    this.tokens = new Counter({ name: 'hyperhive_tokens_total', help: 'Tokens of reported turns, by type (input, output, cache_read, cache_creation)', labelNames: ['agent', 'type'], registers });
    this.sent = new Counter({ name: 'hyperhive_messages_sent_total', help: 'Messages sent in reported turns, by recipient class', labelNames: ['agent', 'to'], registers });
    this.compactions = new Counter({ name: 'hyperhive_notes_compactions_total', help: 'Notes compactions committed on live', labelNames: ['agent'], registers });
    new Gauge({
      name: 'hyperhive_inbox_depth', help: 'Un-acked bus messages per recipient', labelNames: ['recipient'], registers,
      collect() {
        this.reset();
        for (const [r, n] of Object.entries(src.inboxDepths() ?? {})) this.set({ recipient: r }, n);
      },
    });
    new Gauge({ name: 'hyperhive_approvals_pending', help: 'Open approval requests (pending or diverged)', registers, collect() { this.set(src.approvalsPending()); } });
    // Both gauges read one listing per scrape (they are collected concurrently).
    let snap: { at: number; p: Promise<Awaited<ReturnType<MetricsSources['agents']>>> } | null = null;
    const agents = () => {
      if (!snap || Date.now() - snap.at > 1000) snap = { at: Date.now(), p: src.agents() };
      return snap.p;
    };
    new Gauge({
      name: 'hyperhive_agents', help: 'Agents by state and condition (type, status, reason)', labelNames: ['state', 'type', 'status', 'reason'], registers,
      async collect() {
        const list = await agents();
        this.reset();
        for (const a of list) for (const c of a.conditions) this.inc({ state: a.state, type: c.type, status: c.status, reason: c.reason });
      },
    });
    new Gauge({
      name: 'hyperhive_agent_stalled', help: '1 for each Stalled agent, with the reason', labelNames: ['agent', 'reason'], registers,
      async collect() {
        const list = await agents();
        this.reset();
        for (const a of list) {
          const st = a.conditions.find((c) => c.type === 'Stalled' && c.status === 'True');
          if (st) this.set({ agent: a.name, reason: st.reason }, 1);
        }
      },
    });
  }

  turn(agent: string, r: TurnReport): void {
    this.turns.inc({ agent, class: r.class });
    for (const [tool, n] of Object.entries(r.tools)) if (n > 0) this.toolCalls.inc({ agent, tool }, n);
    this.duration.observe({ agent }, r.durationMs / 1000);
    this.cost.inc({ agent }, r.costUsd);
    const u = r.usage;
    for (const [type, n] of [['input', u.inputTokens], ['output', u.outputTokens], ['cache_read', u.cacheReadTokens], ['cache_creation', u.cacheCreationTokens]] as const) this.tokens.inc({ agent, type }, n);
    for (const [to, n] of Object.entries(r.sentTo)) if (n > 0) this.sent.inc({ agent, to }, n);
  }

  compacted(agent: string): void { this.compactions.inc({ agent }); }

  /** The Prometheus text exposition format. */
  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
