// Used by Nix evaluations (harness), the reconciler's prepares and the start-up hook installs.
/** At most `limit` tasks at once; the rest wait in order. `running` and `peak` are for tests and metrics. */
export class Semaphore {
  running = 0;
  peak = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(readonly limit: number) {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new Error(`Semaphore: limit must be a positive integer, got ${limit}`);
  }

  get queued(): number { return this.waiting.length; }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((r) => this.waiting.push(r));
    else this.running++;
    this.peak = Math.max(this.peak, this.running);
    try {
      return await task();
    } finally {
      // The slot passes straight to the next waiter, so `running` never dips and lets a newcomer jump the queue.
      const next = this.waiting.shift();
      if (next) next(); else this.running--;
    }
  }
}
