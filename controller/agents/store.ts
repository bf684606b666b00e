import { Statements } from '../db/statements.ts';
import type { DB } from '../db/open.ts';

export type AgentState = 'active' | 'draft' | 'pending' | 'kept';
export interface AgentRecord { name: string; state: AgentState; suspended: boolean; createdAt: number; createdBy: string; updatedAt: number }

const fromRow = (r: Record<string, unknown>): AgentRecord => ({
  name: r.name as string, state: r.state as AgentState, suspended: r.suspended === 1,
  createdAt: r.created_at as number, createdBy: r.created_by as string, updatedAt: r.updated_at as number,
});

export class AgentStore {
  private readonly sql: Statements;
  constructor(private db: DB, private now: () => number = Date.now) { this.sql = new Statements(db); }


  get(name: string): AgentRecord | null {
    const r = this.sql.get('SELECT * FROM agents WHERE name = ?').get(name) as Record<string, unknown> | undefined;
    return r ? fromRow(r) : null;
  }

  list(opts: { all?: boolean } = {}): AgentRecord[] {
    const stmt = this.sql.get(`SELECT * FROM agents ${opts.all ? '' : "WHERE state != 'kept'"} ORDER BY name`);
    return (stmt.all() as Record<string, unknown>[]).map(fromRow);
  }

  insert(name: string, state: AgentState, createdBy: string): AgentRecord {
    const t = this.now();
    this.sql.get('INSERT INTO agents (name, state, suspended, created_at, created_by, updated_at) VALUES (?, ?, 0, ?, ?, ?)').run(name, state, t, createdBy, t);
    return this.get(name)!;
  }

  setState(name: string, state: AgentState): void {
    this.sql.get('UPDATE agents SET state = ?, updated_at = ? WHERE name = ?').run(state, this.now(), name);
  }

  setSuspended(name: string, suspended: boolean): void {
    this.sql.get('UPDATE agents SET suspended = ?, updated_at = ? WHERE name = ?').run(suspended ? 1 : 0, this.now(), name);
  }

  /** Deletes the record (purge): the name is free again; the log and audit rows that name it stay. */
  remove(name: string): void {
    this.sql.get('DELETE FROM agents WHERE name = ?').run(name);
  }
}
