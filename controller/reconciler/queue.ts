/**
 * A per-key serialized work queue: at most one run per key at a time, different keys in parallel
 * (bounded), and an enqueue during a run schedules exactly one more run — events are only hints
 * to "look again", so coalescing them loses nothing.
 *
 * Two lanes: event-driven work (a push, an approval, a process exit) goes before background work
 * (the periodic resync of every agent). With hundreds of agents a resync queues hundreds of
 * passes; a push must not wait behind them. A background key that gets an urgent enqueue moves up.
 */
export class KeyedQueue {
  private running = new Set<string>();
  private dirty = new Set<string>();
  // Sets keep insertion order: each is a FIFO without duplicates.
  private urgent = new Set<string>();
  private background = new Set<string>();
  private timers = new Map<string, NodeJS.Timeout>();
  private idleWaiters = new Map<string, (() => void)[]>();
  private closed = false;

  constructor(private worker: (key: string) => Promise<void>, private opts: { concurrency?: number; onError?: (key: string, e: unknown) => void } = {}) {}

  /** `background`: only the periodic resync; it runs after every urgent key. */
  enqueue(key: string, opts: { background?: boolean } = {}): void {
    if (this.closed) return;
    if (this.running.has(key)) { this.dirty.add(key); return; }
    if (opts.background) {
      if (!this.urgent.has(key)) this.background.add(key);
    } else {
      this.background.delete(key);
      this.urgent.add(key);
    }
    this.pump();
  }

  /** Enqueue at a later time (backoff); an earlier enqueue still runs at once. */
  enqueueAt(key: string, at: number): void {
    const old = this.timers.get(key);
    if (old) clearTimeout(old);
    const t = setTimeout(() => { this.timers.delete(key); this.enqueue(key); }, Math.max(0, at - Date.now()));
    t.unref();
    this.timers.set(key, t);
  }

  /** Runs fn while no reconcile of `key` runs, and holds the key meanwhile (approve, revert: one operation per agent). */
  async exclusive<T>(key: string, fn: () => Promise<T>): Promise<T> {
    while (this.running.has(key)) await new Promise<void>((r) => this.onIdle(key, r));
    this.running.add(key);
    this.unqueue(key);
    try { return await fn(); } finally { this.finish(key, true); }
  }

  /** Resolves when `key` is neither running nor waiting. */
  async settled(key: string): Promise<void> {
    while (this.running.has(key) || this.queued(key) || this.dirty.has(key)) {
      await new Promise<void>((r) => this.onIdle(key, r));
    }
  }

  /** Keys waiting to run, urgent ones first (status pages, tests). */
  get pending(): { urgent: number; background: number; running: number } {
    return { urgent: this.urgent.size, background: this.background.size, running: this.running.size };
  }

  private queued(key: string): boolean { return this.urgent.has(key) || this.background.has(key); }
  private unqueue(key: string): void { this.urgent.delete(key); this.background.delete(key); }

  private onIdle(key: string, r: () => void): void {
    const list = this.idleWaiters.get(key) ?? [];
    list.push(r);
    this.idleWaiters.set(key, list);
  }

  private next(): string | undefined {
    for (const lane of [this.urgent, this.background]) {
      for (const k of lane) if (!this.running.has(k)) { lane.delete(k); return k; }
    }
    return undefined;
  }

  private pump(): void {
    const limit = this.opts.concurrency ?? 8;
    while (this.running.size < limit) {
      const key = this.next();
      if (key === undefined) return;
      this.running.add(key);
      void this.run(key);
    }
  }

  private async run(key: string): Promise<void> {
    try { await this.worker(key); } catch (e) { this.opts.onError?.(key, e); }
    this.finish(key, false);
  }

  private finish(key: string, requeue: boolean): void {
    this.running.delete(key);
    // A pass owed after this one was asked for while it ran (or by an exclusive operation): urgent.
    if (this.dirty.delete(key) || requeue) {
      this.background.delete(key);
      this.urgent.add(key);
    }
    // Whoever waits for the key (exclusive access first, then settled()) is woken either way;
    // a queued pass runs after an exclusive one.
    const ws = this.idleWaiters.get(key);
    if (ws?.length) { this.idleWaiters.delete(key); ws.forEach((r) => r()); }
    // The next pass after the event loop polled for I/O: passes whose steps are all synchronous (refs,
    // sqlite, a process spawn) would otherwise chain as microtasks and hold off HTTP for as long as a
    // cold start's 1,000 passes take.
    setImmediate(() => this.pump());
  }

  /** Resolves when no run is in flight (after close(), nothing new starts). */
  async idle(): Promise<void> {
    while (this.running.size) await new Promise((r) => setTimeout(r, 10));
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.urgent.clear();
    this.background.clear();
  }
}
