import { Statements } from './db/statements.ts';
import type { DB } from './db/open.ts';
import { SANCTIONING } from './approvals/move-applied.ts';
import { jsonLine, textLine, type LogFormat } from './log-format.ts';

export type Level = 'debug' | 'info' | 'warn' | 'error';
export interface LogEntry { id: number; ts: number; agent: string | null; level: Level; event: string; message: string; data: Record<string, unknown> }
export interface AuditEntry {
  id: number; ts: number; actor: string; action: string; agent: string | null; approvalId: number | null;
  base: string | null; head: string | null; patchHash: string | null; reason: string | null; data: Record<string, unknown>;
}

/**
 * The reconciliation log (every step) and the audit trail (every decision), both in sqlite,
 * the log also as JSON lines on stderr so a journal or a pipe keeps it when the db is gone.
 */
export class ReconLog {
  private insertLog; private insertAudit;
  private readonly sql: Statements;
  constructor(private db: DB, private opts: { stderr?: boolean; format?: LogFormat; now?: () => number; onEntry?: (e: LogEntry) => void } = {}) {
    this.sql = new Statements(db);
    this.insertLog = db.prepare('INSERT INTO log (ts, agent, level, event, message, data) VALUES (?, ?, ?, ?, ?, ?)');
    this.insertAudit = db.prepare(`INSERT INTO audit (ts, actor, action, agent, approval_id, base, head, patch_hash, reason, data)
      VALUES (@ts, @actor, @action, @agent, @approvalId, @base, @head, @patchHash, @reason, @data)`);
  }

  private now(): number { return this.opts.now?.() ?? Date.now(); }

  write(agent: string | null, level: Level, event: string, message: string, data: Record<string, unknown> = {}): LogEntry {
    const ts = this.now();
    if (!this.db.open) {
      // Shutting down: a late event from a stopping agent still reaches stderr, never a closed db.
      this.toStderr({ ts, level, agent, event, message, data });
      return { id: 0, ts, agent, level, event, message, data };
    }
    const id = Number(this.insertLog.run(ts, agent, level, event, message, JSON.stringify(data)).lastInsertRowid);
    const entry: LogEntry = { id, ts, agent, level, event, message, data };
    this.toStderr(entry);
    this.opts.onEntry?.(entry);
    return entry;
  }

  private toStderr(l: Omit<LogEntry, 'id'>): void {
    if (this.opts.stderr === false) return;
    process.stderr.write(this.opts.format === 'text' ? textLine(l, { color: process.stderr.hasColors?.() ?? false }) : jsonLine(l));
  }

  info(agent: string | null, event: string, message: string, data?: Record<string, unknown>): LogEntry { return this.write(agent, 'info', event, message, data); }
  warn(agent: string | null, event: string, message: string, data?: Record<string, unknown>): LogEntry { return this.write(agent, 'warn', event, message, data); }
  error(agent: string | null, event: string, message: string, data?: Record<string, unknown>): LogEntry { return this.write(agent, 'error', event, message, data); }

  audit(e: { actor: string; action: string; agent?: string | null; approvalId?: number | null; base?: string | null; head?: string | null; patchHash?: string | null; reason?: string | null; data?: Record<string, unknown> }): void {
    this.insertAudit.run({
      ts: this.now(), actor: e.actor, action: e.action, agent: e.agent ?? null, approvalId: e.approvalId ?? null,
      base: e.base ?? null, head: e.head ?? null, patchHash: e.patchHash ?? null, reason: e.reason ?? null, data: JSON.stringify(e.data ?? {}),
    });
  }

  /** An audit row with exactly these action, agent, SHA pair and request exists. */
  hasAudit(e: { action: string; agent: string; base?: string | null; head?: string | null; approvalId?: number | null }): boolean {
    return !!this.sql.get('SELECT 1 FROM audit WHERE action = ? AND agent = ? AND base IS ? AND head IS ? AND approval_id IS ? LIMIT 1')
      .get(e.action, e.agent, e.base ?? null, e.head ?? null, e.approvalId ?? null);
  }

  /** Some sanctioning decision (SANCTIONING) put `sha` on the agent's `applied`. */
  isSanctionedApplied(agent: string, sha: string): boolean {
    return !!this.sql.get(`SELECT 1 FROM audit WHERE agent = ? AND head = ? AND action IN (${SANCTIONING.map(() => '?').join(',')}) LIMIT 1`).get(agent, sha, ...SANCTIONING);
  }

  /** The newest sanctioned `applied` revision of the agent (where repair moves it back to). */
  lastSanctioned(agent: string): string | null {
    const r = this.sql.get(`SELECT head FROM audit WHERE agent = ? AND head IS NOT NULL AND action IN (${SANCTIONING.map(() => '?').join(',')}) ORDER BY id DESC LIMIT 1`).get(agent, ...SANCTIONING) as { head: string } | undefined;
    return r?.head ?? null;
  }

  list(q: { agent?: string; since?: number; limit?: number; afterId?: number } = {}): LogEntry[] {
    const where: string[] = []; const args: unknown[] = [];
    if (q.agent) { where.push('agent = ?'); args.push(q.agent); }
    if (q.since !== undefined) { where.push('ts >= ?'); args.push(q.since); }
    if (q.afterId !== undefined) { where.push('id > ?'); args.push(q.afterId); }
    const limit = Math.min(Math.max(q.limit ?? 200, 1), 5000);
    const rows = this.sql.get(`SELECT * FROM log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ${limit}`).all(...args) as Record<string, unknown>[];
    return rows.reverse().map((r) => ({ id: r.id as number, ts: r.ts as number, agent: r.agent as string | null, level: r.level as Level, event: r.event as string, message: r.message as string, data: JSON.parse(r.data as string) }));
  }

  auditTrail(q: { agent?: string; action?: string; limit?: number } = {}): AuditEntry[] {
    const where: string[] = []; const args: unknown[] = [];
    if (q.agent) { where.push('agent = ?'); args.push(q.agent); }
    if (q.action) { where.push('action = ?'); args.push(q.action); }
    const limit = Math.min(Math.max(q.limit ?? 200, 1), 5000);
    const rows = this.sql.get(`SELECT * FROM audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ${limit}`).all(...args) as Record<string, unknown>[];
    return rows.map((r) => ({
      id: r.id as number, ts: r.ts as number, actor: r.actor as string, action: r.action as string, agent: r.agent as string | null,
      approvalId: r.approval_id as number | null, base: r.base as string | null, head: r.head as string | null,
      patchHash: r.patch_hash as string | null, reason: r.reason as string | null, data: JSON.parse(r.data as string),
    }));
  }
}
