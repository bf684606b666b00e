import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { TEMPLATES_DIR, type Controller } from '../controller.ts';
import type { Core } from '../core.ts';
import { can } from '../lifecycle.ts';
import { Compactor, readNotesSize, type CompactorDeps } from '../compaction.ts';
import type { Condition } from '../reconciler/types.ts';
import { Metrics } from '../metrics.ts';
import { StuckDetector, type StuckBus } from '../stuck.ts';
import { ingestTurn, validateTurnReport } from '../turns.ts';
import { HarnessConditions } from './harness-conditions.ts';
import { FLEET } from './keys.ts';
import { StatsStore, type StatsStoreOptions } from './store.ts';

/** The bus as stats uses it; feature-detected on the controller (`controller.bus`) unless given. */
export interface StatsBus extends StuckBus {
  depths(): Record<string, number>;
  onMessage?(listener: (m: { to: string; from: string }) => void): () => void;
}

export interface StatsServiceOptions {
  store?: StatsStoreOptions;
  /** Inbox depths, approval queue and stuck checks every this often (default 10 s). */
  sampleMs?: number;
  /** No turn for this long while the inbox is non-empty → Stalled/Stuck (default 15 min). */
  stuckMs?: number;
  /** Retention and downsampling every this often (default 1 h). */
  maintainMs?: number;
  /** Notes compaction; false turns it off. */
  compaction?: false | Partial<Pick<CompactorDeps, 'thresholdBytes' | 'command' | 'env' | 'model' | 'hangMs' | 'retryMs' | 'promptFile'>>;
  bus?: () => StatsBus | null;
}

/** `b` as the bus stats needs, or null when it lacks depth/depths/send. */
export const asStatsBus = (b: unknown): StatsBus | null => (isBus(b) ? b : null);
const isBus = (b: unknown): b is StatsBus => !!b && typeof (b as StatsBus).depth === 'function' && typeof (b as StatsBus).depths === 'function' && typeof (b as StatsBus).send === 'function';

/**
 * Everything beside the reconciler that turns what agents do into figures and conditions: turn
 * reports, periodic samples (inbox depth, approval queue), the stuck detector, notes compaction,
 * and the Prometheus metrics. Built by serve(); its routes are in web/routes/stats.ts.
 */
export class StatsService {
  readonly store: StatsStore;
  readonly conditions: HarnessConditions;
  readonly metrics: Metrics;
  readonly stuck: StuckDetector;
  readonly compactor: Compactor | null;
  private readonly bus: () => StatsBus | null;
  private timers: NodeJS.Timeout[] = [];
  private lastTurn = new Map<string, number>();
  private unsubscribe: (() => void) | null = null;
  private subscribedTo: StatsBus | null = null;
  private notesPending = new Set<string>();
  private stopped = false;
  private offEvents: (() => void)[] = [];

  private readonly c: Controller;
  constructor(private readonly core: Pick<Core, 'db' | 'controller' | 'agents' | 'log' | 'paths' | 'events'> & Partial<Pick<Core, 'transcripts'>>, private readonly o: StatsServiceOptions = {}) {
    const c = this.c = core.controller;
    const { log, events } = core;
    this.store = new StatsStore(core.db, o.store);
    this.conditions = new HarnessConditions(core.db);
    this.bus = o.bus ?? (() => { const b = (c as unknown as { bus?: unknown }).bus; return isBus(b) ? b : null; });
    this.metrics = new Metrics({
      agents: async () => (await c.listAgents({ all: true })).map((a) => ({ name: a.name, state: a.state, conditions: a.conditions })),
      inboxDepths: () => this.bus()?.depths() ?? null,
      approvalsPending: () => this.approvalsPending(),
    });
    this.stuck = new StuckDetector({
      bus: () => this.bus(),
      agents: () => core.agents.list().filter((a) => can(a.state, 'run') && !a.suspended).map((a) => a.name),
      lastTurnAt: (a) => this.lastTurnAt(a),
      setStuck: (a, m) => this.changed(a, this.conditions.set(a, 'Stuck', m)),
      clearStuck: (a) => this.changed(a, this.conditions.clear(a, ['Stuck'])),
      log: (a, m) => log.warn(a, 'stuck', m),
      thresholdMs: o.stuckMs,
    });
    this.compactor = o.compaction === false ? null : new Compactor({
      repo: (a) => core.paths.repo(a),
      workDir: (a) => path.join(core.paths.state(a), '.compaction'),
      promptFile: path.join(TEMPLATES_DIR, 'prompts', 'compact.md'),
      exclusive: (a, fn) => c.exclusive(a, fn),
      log: { info: (a, e, m, d) => log.info(a, e, m, d), warn: (a, e, m, d) => log.warn(a, e, m, d) },
      audit: (e) => log.audit(e),
      onCompacted: (a, r) => {
        this.store.record(a, 'compactions', 1);
        this.store.record(a, 'notes_bytes', r.after);
        this.metrics.compacted(a);
        events.publish({ type: 'agent.changed', agent: a, what: 'live' });
      },
      ...(o.compaction || {}),
    });
    c.addConditionSource((name, base) => this.conditions.merge(name, base), () => this.conditions.version);
    this.offEvents.push(events.on('agent.resumed', (e) => {
      this.stuck.end(e.agent);
      this.changed(e.agent, this.conditions.clear(e.agent));
    }));
    this.offEvents.push(events.subscribe((e) => {
      if (this.stopped) return;
      if (e.type === 'agent.changed' && e.what === 'live') this.sampleNotes(e.agent);
      if (e.type === 'request.raised' || e.type === 'request.superseded' || e.type === 'request.decided') this.store.record(FLEET, 'approvals_pending', this.approvalsPending());
    }));
  }

  get controller(): Controller { return this.c; }

  /** The bus, if one is wired now. */
  busNow(): StatsBus | null { return this.bus(); }

  private approvalsPending(): number {
    return this.c.listApprovals({ status: ['pending', 'diverged'] }).length;
  }

  private lastTurnAt(agent: string): number | null {
    if (!this.lastTurn.has(agent)) {
      const l = this.store.last(agent, 'turns');
      if (l) this.lastTurn.set(agent, l.ts);
    }
    return this.lastTurn.get(agent) ?? null;
  }

  /** Emits a change event (SSE → UI) when a condition changed; returns whether it did. */
  private changed(agent: string, did: boolean): boolean {
    if (did && !this.stopped) this.core.events.publish({ type: 'agent.changed', agent, what: 'status' });
    return did;
  }

  /** `POST /api/agents/:name/turns`: validates, records, updates conditions; 400 naming bad fields. */
  async reportTurn(agent: string, body: unknown): Promise<{ ok: true; points: number; conditions: Condition[]; turn: number | null }> {
    this.c.requireAgent(agent);
    const r = validateTurnReport(body);
    const before = this.conditions.get(agent).map((x) => x.reason);
    // Every reported turn has a transcript (events or not), so its chart point and log line link to it.
    const turn = this.core.transcripts?.finish(agent, r.transcript ?? `report-${randomUUID()}`, r) ?? null;
    const res = ingestTurn({
      stats: this.store, conditions: this.conditions, log: this.core.log,
      onTurn: (a, rep) => { this.metrics.turn(a, rep); this.lastTurn.set(a, Date.now()); },
    }, agent, r, turn === null ? {} : { turn });
    this.stuck.end(agent);
    for (const x of this.conditions.get(agent)) {
      if (!before.includes(x.reason)) this.core.log.warn(agent, 'stalled', `Stalled (${x.reason}): ${x.message}${x.reason === 'AuthFailed' ? ' — until an operator resumes the agent or a new message comes' : ''}`, { reason: x.reason });
    }
    for (const reason of before) if (!this.conditions.has(agent, reason)) this.core.log.info(agent, 'unstalled', `${reason} cleared by a ${r.class} turn`, { reason });
    this.core.events.publish(res.conditionsChanged ? { type: 'agent.changed', agent, what: 'status' } : { type: 'turn', agent, ok: r.class === 'ok' });
    await this.sampleNotesNow(agent);
    return { ok: true, points: res.points, conditions: (await this.c.getAgent(agent)).conditions, turn };
  }

  private sampleNotes(agent: string): void {
    if (this.notesPending.has(agent)) return;
    this.notesPending.add(agent);
    setTimeout(() => { this.notesPending.delete(agent); void this.sampleNotesNow(agent); }, 50).unref();
  }

  private async sampleNotesNow(agent: string): Promise<void> {
    if (this.stopped) return;
    try {
      const size = await readNotesSize(this.core.paths.repo(agent));
      if (size === null || this.stopped) return;
      this.store.record(agent, 'notes_bytes', size);
      this.compactor?.maybeCompact(agent, size);
    } catch { /* an agent without a repo (purged meanwhile) has no notes */ }
  }

  /** One sampling pass: inbox depths, approval queue, stuck check; also subscribes to the bus once it exists. */
  sample(): void {
    const bus = this.bus();
    if (bus && bus !== this.subscribedTo && bus.onMessage) {
      this.unsubscribe?.();
      this.subscribedTo = bus;
      // A new message is what the harness waits for after an auth failure: it will try again.
      this.unsubscribe = bus.onMessage((m) => {
        if (this.conditions.has(m.to, 'AuthFailed')) {
          this.core.log.info(m.to, 'unstalled', `AuthFailed cleared: a new message from ${m.from} makes the harness try again`);
          this.changed(m.to, this.conditions.clear(m.to, ['AuthFailed']));
        }
      });
    }
    const now = Date.now();
    if (bus) {
      const depths = bus.depths();
      for (const a of this.core.agents.list()) if (can(a.state, 'run')) this.store.record(a.name, 'inbox_depth', depths[a.name] ?? 0, now);
    }
    this.store.record(FLEET, 'approvals_pending', this.approvalsPending(), now);
    this.stuck.check();
  }

  start(): void {
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(() => { try { fn(); } catch (e) { this.core.log.warn(null, 'stats', `${fn.name || 'stats task'} failed: ${(e as Error).message}`); } }, ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.o.sampleMs ?? 10_000, () => this.sample());
    every(this.o.maintainMs ?? 3_600_000, () => this.store.maintain());
    try { this.sample(); } catch { /* the interval retries */ }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.unsubscribe?.();
    for (const off of this.offEvents) off();
    this.compactor?.stop();
    await this.compactor?.idle();
    this.store.close();
  }
}
