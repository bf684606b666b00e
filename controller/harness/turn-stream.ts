import { MAX_BATCH_BYTES, type TranscriptEvent, type TurnEventsBody } from '../transcripts/types.ts';

/** A 4xx answer other than 429: trying again gets the same answer. */
const refusedForGood = (err: unknown): boolean => {
  const status = (err as { data?: { status?: unknown } })?.data?.status;
  return typeof status === 'number' && status >= 400 && status < 500 && status !== 429;
};

export interface TurnStreamOptions {
  /** Where batches go (the controller's `POST /api/agents/<own>/turns/events`). */
  post: (body: TurnEventsBody) => Promise<void>;
  key: string;
  startedAt: Date;
  /** A batch leaves at most this long after its first event (default 150 ms). */
  flushMs?: number;
  /** Events held while the controller does not take them; past it the oldest go (default 8 MiB). */
  maxQueuedBytes?: number;
  /** How long close() waits for the last batches before giving up on them (default 10 s). */
  closeTimeoutMs?: number;
  log?: (line: string) => void;
}

/**
 * The turn in progress, streamed to the controller as it happens: events are queued and posted in
 * batches, one post at a time, so the CLI never waits on the controller. A post that fails is tried
 * again with the next batch; past the queue's budget the oldest events are dropped and counted (the
 * controller is told in an `error` event). close() sends what is left, within a time bound.
 */
export class TurnStream {
  private queue: { e: TranscriptEvent; bytes: number }[] = [];
  private queuedBytes = 0;
  private dropped = 0;
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private failures = 0;
  private closed = false;
  private readonly o: Required<Omit<TurnStreamOptions, 'log'>> & Pick<TurnStreamOptions, 'log'>;

  constructor(o: TurnStreamOptions) {
    this.o = { flushMs: 150, maxQueuedBytes: 8 * 1024 * 1024, closeTimeoutMs: 10_000, ...o };
  }

  get key(): string { return this.o.key; }

  push(e: TranscriptEvent): void {
    if (this.closed) return;
    const bytes = Buffer.byteLength(JSON.stringify(e));
    this.queue.push({ e, bytes });
    this.queuedBytes += bytes;
    while (this.queuedBytes > this.o.maxQueuedBytes && this.queue.length > 1) {
      this.queuedBytes -= this.queue.shift()!.bytes;
      this.dropped++;
    }
    this.timer ??= setTimeout(() => { this.timer = null; void this.pump(); }, this.o.flushMs);
  }

  /** Sends everything queued so far; resolves when it was posted or given up on for now. */
  private async pump(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    this.inFlight = (async () => {
      while (this.queue.length) {
        if (this.dropped) {
          const note: TranscriptEvent = { kind: 'error', at: Date.now(), message: `${this.dropped} event(s) of this turn were dropped: the controller did not take them in time` };
          this.queue.unshift({ e: note, bytes: Buffer.byteLength(JSON.stringify(note)) });
          this.queuedBytes += this.queue[0]!.bytes;
          this.dropped = 0;
        }
        let n = 0; let bytes = 0;
        while (n < this.queue.length && n < 500 && (n === 0 || bytes + this.queue[n]!.bytes <= MAX_BATCH_BYTES)) bytes += this.queue[n++]!.bytes;
        const batch = this.queue.slice(0, n);
        try {
          await this.o.post({ turn: this.o.key, startedAt: this.o.startedAt.toISOString(), events: batch.map((b) => b.e) });
          this.queue.splice(0, n);
          this.queuedBytes -= bytes;
          this.failures = 0;
        } catch (err) {
          if (refusedForGood(err)) {
            // The controller answered and will not take them (an older one without the route, a bad event): no retries.
            this.o.log?.(`transcript: the controller refused this turn's events (${(err as Error).message}); not streaming the rest of the turn`);
            this.closed = true;
            this.queue = [];
            this.queuedBytes = 0;
            break;
          }
          if (this.failures++ === 0) this.o.log?.(`transcript: events not taken (${(err as Error).message}); keeping them for the next try`);
          break;
        }
      }
    })().finally(() => { this.inFlight = null; });
    return this.inFlight;
  }

  /** The last batches, bounded in time (default closeTimeoutMs); the stream takes nothing after. */
  async close(timeoutMs: number = this.o.closeTimeoutMs): Promise<void> {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    const deadline = Date.now() + timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const sleep = (ms: number) => new Promise<void>((r) => { timer = setTimeout(r, Math.max(0, ms)); });
    try {
      while (this.queue.length && Date.now() < deadline) {
        const failures = this.failures;
        await Promise.race([this.pump(), sleep(deadline - Date.now())]);
        clearTimeout(timer);
        // A failing controller: wait a little before the next try instead of spinning until the deadline.
        if (this.failures > failures) { await sleep(Math.min(500, deadline - Date.now())); clearTimeout(timer); }
      }
    } finally { clearTimeout(timer); }
    if (this.queue.length) this.o.log?.(`transcript: ${this.queue.length} event(s) of the turn were not delivered`);
    this.closed = true;
    this.queue = [];
    this.queuedBytes = 0;
  }
}
