import type { DB } from '../db/open.ts';
import type { TurnReport } from '../harness/io.ts';
import { DEFAULT_RETENTION, type StoredTranscriptEvent, type TranscriptEvent, type TranscriptStatus, type TurnSummary, type TurnTranscript } from './types.ts';

export interface TranscriptRetention {
  /** Turns kept per agent (default 50). */
  maxTurns: number;
  /** Event bytes kept per agent (default 20 MiB); a turn's events past it are dropped and counted. */
  maxBytes: number;
}

export interface TurnQuery { limit?: number; since?: number; until?: number }

interface Row {
  id: number; agent: string; key: string; started_at: number; ended_at: number | null; status: TranscriptStatus;
  class: string | null; error: string | null; model: string | null; duration_ms: number | null; cost_usd: number | null;
  report: string; events: number; bytes: number; dropped: number;
}

const summaryOf = (r: Row): TurnSummary => {
  const rep = JSON.parse(r.report) as Partial<TurnReport>;
  return {
    id: r.id, agent: r.agent, key: r.key, startedAt: r.started_at, endedAt: r.ended_at, status: r.status,
    class: r.class, error: r.error, model: r.model, durationMs: r.duration_ms, costUsd: r.cost_usd,
    tools: rep.tools ?? {}, usage: rep.usage ?? null, messages: rep.messages ?? null,
    events: r.events, bytes: r.bytes, dropped: r.dropped,
  };
};

/**
 * Turn transcripts in sqlite: events appended as the harness streams them, the report's figures when
 * it comes, the oldest turns pruned past the retention (turns or bytes, whichever is hit first).
 */
export class TranscriptStore {
  readonly retention: TranscriptRetention;
  constructor(private readonly db: DB, retention: Partial<TranscriptRetention> = {}, private readonly now: () => number = Date.now) {
    this.retention = { ...DEFAULT_RETENTION, ...retention };
  }

  private row(agent: string, key: string): Row | undefined {
    return this.db.prepare('SELECT * FROM transcripts WHERE agent = ? AND key = ?').get(agent, key) as Row | undefined;
  }

  /** The turn's row, made on first sight: other turns of the agent still running are over (the harness moved on). */
  private ensure(agent: string, key: string, startedAt: number): { row: Row; created: boolean } {
    const found = this.row(agent, key);
    if (found) return { row: found, created: false };
    this.db.prepare("UPDATE transcripts SET status = 'interrupted', ended_at = COALESCE(ended_at, ?) WHERE agent = ? AND status = 'running'").run(this.now(), agent);
    this.db.prepare('INSERT INTO transcripts (agent, key, started_at) VALUES (?, ?, ?)').run(agent, key, startedAt);
    this.prune(agent);
    return { row: this.row(agent, key)!, created: true };
  }

  /** Appends a batch of the turn in progress; returns what was stored (numbered) and what was dropped. */
  append(agent: string, key: string, startedAt: number, events: TranscriptEvent[]): { id: number; created: boolean; stored: StoredTranscriptEvent[]; dropped: number } {
    return this.db.transaction(() => {
      const { row, created } = this.ensure(agent, key, startedAt);
      const budget = this.retention.maxBytes;
      const insert = this.db.prepare('INSERT INTO transcript_events (transcript_id, seq, kind, at, data) VALUES (?, ?, ?, ?, ?)');
      const stored: StoredTranscriptEvent[] = [];
      let seq = row.events; let bytes = row.bytes; let dropped = 0;
      for (const e of events) {
        const data = JSON.stringify(e);
        const n = Buffer.byteLength(data);
        // One turn never holds more than the agent's whole budget: the rest is counted, not kept.
        if (bytes + n > budget) { dropped++; continue; }
        insert.run(row.id, ++seq, e.kind, e.at, data);
        bytes += n;
        stored.push({ ...e, seq });
      }
      this.db.prepare('UPDATE transcripts SET events = ?, bytes = ?, dropped = dropped + ? WHERE id = ?').run(seq, bytes, dropped, row.id);
      if (stored.length) this.pruneBytes(agent, row.id);
      return { id: row.id, created, stored, dropped };
    })();
  }

  /** Records the turn's report on its transcript (made if no event came); returns the turn's id. */
  finish(agent: string, key: string, r: TurnReport): number {
    return this.db.transaction(() => {
      const started = Date.parse(r.startedAt);
      const { row } = this.ensure(agent, key, Number.isFinite(started) ? started : this.now());
      const report = { tools: r.tools, usage: r.usage, numTurns: r.numTurns, messages: r.messages, sentTo: r.sentTo, permissionDenials: r.permissionDenials, exitCode: r.exitCode, sessionId: r.sessionId };
      this.db.prepare(`UPDATE transcripts SET status = 'done', ended_at = ?, class = ?, error = ?, model = ?, duration_ms = ?, cost_usd = ?, report = ? WHERE id = ?`)
        .run(this.now(), r.class, r.error ?? null, r.model || null, r.durationMs, r.costUsd, JSON.stringify(report), row.id);
      return row.id;
    })();
  }

  /** The agent's turns, newest first. */
  list(agent: string, q: TurnQuery = {}): TurnSummary[] {
    const where = ['agent = ?']; const args: unknown[] = [agent];
    // By when the turn ended (its report came, the time its chart point has); a running one by its start.
    if (q.since !== undefined) { where.push('COALESCE(ended_at, started_at) >= ?'); args.push(q.since); }
    if (q.until !== undefined) { where.push('COALESCE(ended_at, started_at) < ?'); args.push(q.until); }
    const limit = Math.min(Math.max(q.limit ?? 50, 1), 1000);
    return (this.db.prepare(`SELECT * FROM transcripts WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT ${limit}`).all(...args) as Row[]).map(summaryOf);
  }

  summary(agent: string, id: number): TurnSummary | null {
    const r = this.db.prepare('SELECT * FROM transcripts WHERE agent = ? AND id = ?').get(agent, id) as Row | undefined;
    return r ? summaryOf(r) : null;
  }

  /** One turn with its events (those after `after` only, for a page following it live). */
  get(agent: string, id: number, o: { after?: number } = {}): TurnTranscript | null {
    const s = this.summary(agent, id);
    if (!s) return null;
    const rows = this.db.prepare('SELECT seq, data FROM transcript_events WHERE transcript_id = ? AND seq > ? ORDER BY seq').all(id, o.after ?? 0) as { seq: number; data: string }[];
    return { ...s, transcript: rows.map((r) => ({ ...(JSON.parse(r.data) as TranscriptEvent), seq: r.seq })) };
  }

  /** Tool names by tool_use id in a turn (a page showing only newer events names their tools with it). */
  toolNames(id: number): Map<string, string> {
    const rows = this.db.prepare("SELECT data FROM transcript_events WHERE transcript_id = ? AND kind = 'tool_use'").all(id) as { data: string }[];
    const m = new Map<string, string>();
    for (const r of rows) { const e = JSON.parse(r.data) as { id: string | null; name: string }; if (e.id) m.set(e.id, e.name); }
    return m;
  }

  /** The turn of the agent running now (the newest still streaming), or null. */
  running(agent: string): TurnSummary | null {
    const r = this.db.prepare("SELECT * FROM transcripts WHERE agent = ? AND status = 'running' ORDER BY id DESC LIMIT 1").get(agent) as Row | undefined;
    return r ? summaryOf(r) : null;
  }

  /** Event bytes the agent's transcripts hold now. */
  bytesOf(agent: string): number {
    return (this.db.prepare('SELECT COALESCE(SUM(bytes), 0) AS n FROM transcripts WHERE agent = ?').get(agent) as { n: number }).n;
  }

  /** Keeps the newest maxTurns turns and, within maxBytes, as many of the newest as fit (the newest always). */
  prune(agent: string): number {
    const rows = this.db.prepare('SELECT id, bytes FROM transcripts WHERE agent = ? ORDER BY id DESC').all(agent) as { id: number; bytes: number }[];
    let total = 0;
    const drop: number[] = [];
    rows.forEach((r, i) => {
      total += r.bytes;
      if (i > 0 && (i >= this.retention.maxTurns || total > this.retention.maxBytes)) drop.push(r.id);
    });
    this.remove(drop);
    return drop.length;
  }

  /** After an append: older turns make room for the one growing (never that one). */
  private pruneBytes(agent: string, keep: number): void {
    if (this.bytesOf(agent) <= this.retention.maxBytes) return;
    const rows = this.db.prepare('SELECT id, bytes FROM transcripts WHERE agent = ? ORDER BY id ASC').all(agent) as { id: number; bytes: number }[];
    let total = rows.reduce((n, r) => n + r.bytes, 0);
    const drop: number[] = [];
    for (const r of rows) {
      if (total <= this.retention.maxBytes) break;
      if (r.id === keep) continue;
      drop.push(r.id);
      total -= r.bytes;
    }
    this.remove(drop);
  }

  private remove(ids: number[]): void {
    const ev = this.db.prepare('DELETE FROM transcript_events WHERE transcript_id = ?');
    const tr = this.db.prepare('DELETE FROM transcripts WHERE id = ?');
    for (const id of ids) { ev.run(id); tr.run(id); }
  }

  /** Every transcript of the agent (its purge). */
  forget(agent: string): void {
    this.remove((this.db.prepare('SELECT id FROM transcripts WHERE agent = ?').all(agent) as { id: number }[]).map((r) => r.id));
  }
}
