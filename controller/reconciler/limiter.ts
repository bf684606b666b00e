/**
 * At most `n` tasks at once, the rest waiting in order. The reconciler's prepares go through one: a
 * cold start with 1,000 agents otherwise began 1,000 checkouts at once and starved the event loop
 * (/api/health answered after ~30 s instead of ~1 s).
 */
export class Limiter {
  private running = 0;
  private waiting: (() => void)[] = [];
  constructor(private readonly n: number) {
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`Limiter: n must be a positive integer, got ${n}`);
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.n) await new Promise<void>((r) => this.waiting.push(r));
    this.running += 1;
    try { return await fn(); } finally {
      this.running -= 1;
      this.waiting.shift()?.();
    }
  }

  get active(): number { return this.running; }
  get queued(): number { return this.waiting.length; }
}
