import type Koa from 'koa';

// Server-Sent Events for the UI: every event gets an increasing id and the last few are kept, so a
// browser that reconnects (EventSource does so by itself, sending Last-Event-ID) misses nothing recent.

export interface SseEvent { id: number; event: string; data: unknown; at: number }
type Listener = (e: SseEvent) => void;

export interface BroadcasterOptions {
  /** Events kept for replay to reconnecting clients. */
  backlog?: number;
  /** Comment lines keep idle connections (and proxies) from timing out. */
  heartbeatMs?: number;
  now?: () => number;
}

export function formatSse(e: SseEvent): string {
  const data = JSON.stringify(e.data ?? null);
  // JSON.stringify never emits raw newlines, so one data line suffices; event names are ours, but
  // strip line breaks anyway so nothing can inject extra fields.
  return `id: ${e.id}\nevent: ${e.event.replace(/[\r\n]/g, '')}\ndata: ${data}\n\n`;
}

export class Broadcaster {
  private listeners = new Set<Listener>();
  private backlog: SseEvent[] = [];
  private nextId = 1;
  private streams = new Set<{ end(): void }>();
  private readonly max: number;
  private readonly heartbeatMs: number;
  private readonly now: () => number;

  constructor(o: BroadcasterOptions = {}) {
    this.max = o.backlog ?? 200;
    this.heartbeatMs = o.heartbeatMs ?? 15000;
    this.now = o.now ?? Date.now;
  }

  publish(event: string, data: unknown): SseEvent {
    const e: SseEvent = { id: this.nextId++, event, data, at: this.now() };
    this.backlog.push(e);
    if (this.backlog.length > this.max) this.backlog.shift();
    for (const l of this.listeners) {
      try { l(e); } catch { /* one broken listener must not stop the others */ }
    }
    return e;
  }

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => { this.listeners.delete(fn); };
  }

  /** Events after `lastId` still in the backlog. */
  since(lastId: number): SseEvent[] { return this.backlog.filter((e) => e.id > lastId); }

  get clients(): number { return this.streams.size; }
  get lastId(): number { return this.nextId - 1; }

  /** Koa handler for `GET /api/events`; authentication is the caller's job (mount it behind auth). */
  handler(): Koa.Middleware {
    return async (ctx) => {
      // Written to the raw response (ctx.respond = false): koa's stream piping reports every closed
      // browser tab as an error, and an event stream is expected to end that way.
      const res = ctx.res;
      ctx.req.socket.setTimeout(0);
      ctx.req.socket.setNoDelay(true);
      ctx.req.socket.setKeepAlive(true);
      ctx.respond = false;
      res.writeHead(200, {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-cache, no-transform',
        Connection: 'keep-alive',
        'X-Accel-Buffering': 'no',
      });
      const write = (chunk: string) => { if (!res.writableEnded && !res.destroyed) res.write(chunk); };
      const lastId = Number(ctx.get('last-event-id') || ctx.query.lastEventId || 0);
      write(`retry: 2000\n: connected ${this.lastId}\n\n`);
      if (lastId > 0) for (const e of this.since(lastId)) write(formatSse(e));

      const unsubscribe = this.subscribe((e) => write(formatSse(e)));
      const beat = setInterval(() => write(': keep-alive\n\n'), this.heartbeatMs);
      beat.unref();
      const client = { end: () => { if (!res.writableEnded) res.end(); } };
      this.streams.add(client);
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        clearInterval(beat);
        unsubscribe();
        this.streams.delete(client);
        client.end();
      };
      ctx.req.on('close', end);
      res.on('close', end);
      res.on('error', end);
    };
  }

  /** Ends every open stream (server shutdown), so `server.close()` is not held up by them. */
  closeAll(): void {
    for (const s of this.streams) s.end();
    this.streams.clear();
  }
}
