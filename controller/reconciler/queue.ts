/**
 * A per-key serialized work queue: at most one run per key at a time, different keys in parallel
 * (bounded), and an enqueue during a run schedules exactly one more run — events are only hints
 * to "look again", so coalescing them loses nothing.
 */
export class KeyedQueue {
  private running = new Set<string>();
  private dirty = new Set<string>();
  private waiting: string[] = [];
  private timers = new Map<string, NodeJS.Timeout>();
  private idleWaiters = new Map<string, (() => void)[]>();
  private closed = false;

  constructor(private worker: (key: string) => Promise<void>, private opts: { concurrency?: number; onError?: (key: string, e: unknown) => void } = {}) {}

  enqueue(key: string): void {
    if (this.closed) return;
    if (this.running.has(key)) { this.dirty.add(key); return; }
    if (!this.waiting.includes(key)) this.waiting.push(key);
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
    this.waiting = this.waiting.filter((k) => k !== key);
    try { return await fn(); } finally { this.finish(key, true); }
  }

  /** Resolves when `key` is neither running nor waiting. */
  async settled(key: string): Promise<void> {
    while (this.running.has(key) || this.waiting.includes(key) || this.dirty.has(key)) {
      await new Promise<void>((r) => this.onIdle(key, r));
    }
  }

  private onIdle(key: string, r: () => void): void {
    const list = this.idleWaiters.get(key) ?? [];
    list.push(r);
    this.idleWaiters.set(key, list);
  }

  private pump(): void {
    const limit = this.opts.concurrency ?? 8;
    while (this.running.size < limit && this.waiting.length) {
      const idx = this.waiting.findIndex((k) => !this.running.has(k));
      if (idx < 0) return;
      const [key] = this.waiting.splice(idx, 1);
      this.running.add(key!);
      void this.run(key!);
    }
  }

  private async run(key: string): Promise<void> {
    try { await this.worker(key); } catch (e) { this.opts.onError?.(key, e); }
    this.finish(key, false);
  }

  private finish(key: string, requeue: boolean): void {
    this.running.delete(key);
    if (this.dirty.delete(key) || requeue) {
      if (!this.waiting.includes(key)) this.waiting.push(key);
    }
    if (!this.waiting.includes(key)) {
      const ws = this.idleWaiters.get(key);
      if (ws) { this.idleWaiters.delete(key); ws.forEach((r) => r()); }
    } else {
      // Someone waiting for exclusive access goes first; the queued pass runs after.
      const ws = this.idleWaiters.get(key);
      if (ws?.length) { this.idleWaiters.delete(key); ws.forEach((r) => r()); }
    }
    this.pump();
  }

  /** Resolves when no run is in flight (after close(), nothing new starts). */
  async idle(): Promise<void> {
    while (this.running.size) await new Promise((r) => setTimeout(r, 10));
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.waiting = [];
  }
}
