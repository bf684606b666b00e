// Flow control for one terminal session, as the xterm.js guide describes it: every sink (each viewer,
// and the server's headless screen) acknowledges the bytes it has processed; the PTY is paused while
// the slowest sink has more than `high` bytes outstanding and resumed once it is below `low`. Pure:
// the session applies the decisions.

export interface Watermarks { high: number; low: number }
export const DEFAULT_WATERMARKS: Watermarks = { high: 100 * 1024, low: 10 * 1024 };

export type FlowDecision = 'pause' | 'resume' | null;

export class FlowControl {
  private pending = new Map<string, { bytes: number; behindSince: number | null }>();
  paused = false;
  constructor(readonly marks: Watermarks = DEFAULT_WATERMARKS, private readonly now: () => number = Date.now) {}

  add(sink: string): void { this.pending.set(sink, { bytes: 0, behindSince: null }); }

  remove(sink: string): FlowDecision {
    this.pending.delete(sink);
    return this.decide();
  }

  /** `n` bytes went to every sink. */
  sent(n: number): FlowDecision {
    for (const p of this.pending.values()) {
      p.bytes += n;
      if (p.bytes > this.marks.high) p.behindSince ??= this.now();
    }
    return this.decide();
  }

  /** `n` bytes went to one sink only (a new viewer's restored screen). */
  sentTo(sink: string, n: number): FlowDecision {
    const p = this.pending.get(sink);
    if (p) { p.bytes += n; if (p.bytes > this.marks.high) p.behindSince ??= this.now(); }
    return this.decide();
  }

  acked(sink: string, n: number): FlowDecision {
    const p = this.pending.get(sink);
    if (!p) return null;
    // A sink cannot acknowledge more than it was sent.
    p.bytes = Math.max(0, p.bytes - n);
    if (p.bytes <= this.marks.high) p.behindSince = null;
    return this.decide();
  }

  outstanding(sink: string): number { return this.pending.get(sink)?.bytes ?? 0; }
  get slowest(): number { let m = 0; for (const p of this.pending.values()) m = Math.max(m, p.bytes); return m; }

  /** Sinks that have been above the high watermark for at least `ms`. */
  stalled(ms: number): string[] {
    const t = this.now();
    return [...this.pending].filter(([, p]) => p.behindSince !== null && t - p.behindSince >= ms).map(([k]) => k);
  }

  private decide(): FlowDecision {
    const slowest = this.slowest;
    if (!this.paused && slowest > this.marks.high) { this.paused = true; return 'pause'; }
    if (this.paused && slowest < this.marks.low) { this.paused = false; return 'resume'; }
    return null;
  }
}
