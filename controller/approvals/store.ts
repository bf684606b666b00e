import { Statements } from '../db/statements.ts';
import type { DB } from '../db/open.ts';

export type ApprovalKind = 'change' | 'spawn' | 'revive' | 'destroy' | 'tool';
export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'superseded' | 'diverged' | 'expired' | 'failed';
export const OPEN_STATUSES: ApprovalStatus[] = ['pending', 'diverged'];
/** How a request's `error` begins when its proposed config does not evaluate. */
export const CONFIG_ERROR_PREFIX = 'config does not evaluate: ';
const CONFIG_ERROR_PREFIX_RE = new RegExp(`^${CONFIG_ERROR_PREFIX}`);

export interface Approval {
  id: number; kind: ApprovalKind; agent: string; base: string | null; head: string | null; status: ApprovalStatus;
  paths: string[]; proposer: string | null; createdAt: number; decidedBy: string | null; decidedAt: number | null;
  reason: string | null; patchHash: string | null; supersededBy: number | null; note: string | null; error: string | null;
  data: Record<string, unknown>;
}

const fromRow = (r: Record<string, unknown>): Approval => ({
  id: r.id as number, kind: r.kind as ApprovalKind, agent: r.agent as string, base: r.base as string | null, head: r.head as string | null,
  status: r.status as ApprovalStatus, paths: JSON.parse(r.paths as string), proposer: r.proposer as string | null,
  createdAt: r.created_at as number, decidedBy: r.decided_by as string | null, decidedAt: r.decided_at as number | null,
  reason: r.reason as string | null, patchHash: r.patch_hash as string | null, supersededBy: r.superseded_by as number | null,
  note: r.note as string | null, error: r.error as string | null, data: JSON.parse(r.data as string),
});

export class ApprovalStore {
  private readonly sql: Statements;
  constructor(private db: DB, private now: () => number = Date.now) { this.sql = new Statements(db); }

  get(id: number): Approval | null {
    const r = this.sql.get('SELECT * FROM approvals WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return r ? fromRow(r) : null;
  }

  list(q: { status?: string[]; agent?: string; kind?: string; limit?: number } = {}): Approval[] {
    const where: string[] = []; const args: unknown[] = [];
    if (q.status?.length) { where.push(`status IN (${q.status.map(() => '?').join(',')})`); args.push(...q.status); }
    if (q.agent) { where.push('agent = ?'); args.push(q.agent); }
    if (q.kind) { where.push('kind = ?'); args.push(q.kind); }
    const limit = Math.min(Math.max(q.limit ?? 500, 1), 10000);
    const rows = this.sql.get(`SELECT * FROM approvals ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id ASC LIMIT ${limit}`).all(...args) as Record<string, unknown>[];
    return rows.map(fromRow);
  }

  /** The agent's open change request (pending or diverged); at most one by construction. */
  openChange(agent: string): Approval | null {
    const r = this.sql.get("SELECT * FROM approvals WHERE agent = ? AND kind = 'change' AND status IN ('pending','diverged') ORDER BY id DESC LIMIT 1").get(agent) as Record<string, unknown> | undefined;
    return r ? fromRow(r) : null;
  }

  /**
   * Every open change request of the agent, newest first. One by construction since raises are one
   * transaction; a database written by an older controller killed mid-raise can still hold more.
   */
  openChanges(agent: string): Approval[] {
    const rows = this.sql.get("SELECT * FROM approvals WHERE agent = ? AND kind = 'change' AND status IN ('pending','diverged') ORDER BY id DESC").all(agent) as Record<string, unknown>[];
    return rows.map(fromRow);
  }

  /** The error text of a config verdict, without the prefix the request's `error` carries. */
  static configError(a: Pick<Approval, 'error'>): string | null {
    return a.error ? a.error.replace(CONFIG_ERROR_PREFIX_RE, '') : null;
  }

  /** Runs `fn` as one sqlite transaction (the store's own connection, shared with the log and audit). */
  atomically<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /**
   * Approved requests of any kind whose effect was not carried out (`data.applied` unset): the
   * controller died between recording the decision and completing it. Oldest first.
   */
  approvedIncomplete(agent: string): Approval[] {
    const rows = this.sql.get("SELECT * FROM approvals WHERE agent = ? AND status = 'approved' AND json_extract(data, '$.applied') IS NULL ORDER BY id ASC").all(agent) as Record<string, unknown>[];
    return rows.map(fromRow);
  }

  /** Marks an approved request carried out (`data.applied`), the marker approvedIncomplete reads. */
  markCompleted(id: number): Approval {
    this.sql.get("UPDATE approvals SET data = json_set(data, '$.applied', json('true')) WHERE id = ?").run(id);
    return this.get(id)!;
  }

  findDecided(agent: string, base: string, head: string, status: ApprovalStatus): Approval | null {
    const r = this.sql.get("SELECT * FROM approvals WHERE agent = ? AND kind = 'change' AND base = ? AND head = ? AND status = ? ORDER BY id DESC LIMIT 1").get(agent, base, head, status) as Record<string, unknown> | undefined;
    return r ? fromRow(r) : null;
  }

  insert(a: { kind: ApprovalKind; agent: string; base: string | null; head: string | null; status: ApprovalStatus; paths: string[]; proposer: string | null; patchHash?: string | null; note?: string | null; error?: string | null; data?: Record<string, unknown> }): Approval {
    const id = Number(this.sql.get(`INSERT INTO approvals (kind, agent, base, head, status, paths, proposer, created_at, patch_hash, note, error, data)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(a.kind, a.agent, a.base, a.head, a.status, JSON.stringify(a.paths), a.proposer, this.now(),
      a.patchHash ?? null, a.note ?? null, a.error ?? null, JSON.stringify(a.data ?? {})).lastInsertRowid);
    return this.get(id)!;
  }

  update(id: number, fields: Partial<Pick<Approval, 'status' | 'decidedBy' | 'decidedAt' | 'reason' | 'supersededBy' | 'note' | 'error' | 'data'>>): Approval {
    const cols: Record<string, string> = { status: 'status', decidedBy: 'decided_by', decidedAt: 'decided_at', reason: 'reason', supersededBy: 'superseded_by', note: 'note', error: 'error', data: 'data' };
    const sets: string[] = []; const args: unknown[] = [];
    for (const [k, v] of Object.entries(fields)) {
      sets.push(`${cols[k]} = ?`);
      args.push(k === 'data' ? JSON.stringify(v) : v);
    }
    if (sets.length) this.sql.get(`UPDATE approvals SET ${sets.join(', ')} WHERE id = ?`).run(...args, id);
    return this.get(id)!;
  }

  vote(id: number, voter: string, decision: 'approve' | 'reject', reason: string | null): void {
    this.sql.get('INSERT OR REPLACE INTO approval_votes (approval_id, voter, decision, reason, at) VALUES (?, ?, ?, ?, ?)').run(id, voter, decision, reason, this.now());
  }

  votes(id: number): { voter: string; decision: 'approve' | 'reject'; reason: string | null; at: number }[] {
    return this.sql.get('SELECT voter, decision, reason, at FROM approval_votes WHERE approval_id = ? ORDER BY at').all(id) as never;
  }
}
