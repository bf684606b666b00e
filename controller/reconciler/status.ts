import { Statements } from '../db/statements.ts';
import type { DB } from '../db/open.ts';
import type { Condition } from './types.ts';

export interface HistoryEntry { ts: number; op: string; revision: string | null; result: 'ok' | 'failed' | 'info'; message: string }
export interface AgentStatusRecord {
  lastAppliedRevision: string | null;
  lastAttemptedRevision: string | null;
  conditions: Condition[];
  history: HistoryEntry[];
  failures: number;
  nextAttemptAt: number | null;
}

const HISTORY = 10;
const empty = (): AgentStatusRecord => ({ lastAppliedRevision: null, lastAttemptedRevision: null, conditions: [], history: [], failures: 0, nextAttemptAt: null });

/** Flux-like status per agent, persisted so a restarted controller still knows what it last applied. */
export class StatusStore {
  private cache = new Map<string, AgentStatusRecord>();
  private changes = 0;
  /** Moves on every write: a reader that planned over every agent's status knows when to plan again. */
  get version(): number { return this.changes; }
  private readonly sql: Statements;
  constructor(private db: DB, private now: () => number = Date.now) { this.sql = new Statements(db); }

  get(agent: string): AgentStatusRecord {
    const c = this.cache.get(agent);
    if (c) return c;
    const r = this.sql.get('SELECT * FROM agent_status WHERE agent = ?').get(agent) as Record<string, unknown> | undefined;
    const rec = r ? {
      lastAppliedRevision: r.last_applied as string | null, lastAttemptedRevision: r.last_attempted as string | null,
      conditions: JSON.parse(r.conditions as string), history: JSON.parse(r.history as string),
      failures: r.failures as number, nextAttemptAt: r.next_attempt_at as number | null,
    } : empty();
    this.cache.set(agent, rec);
    return rec;
  }

  update(agent: string, fn: (s: AgentStatusRecord) => void): AgentStatusRecord {
    const s = structuredClone(this.get(agent));
    fn(s);
    s.history = s.history.slice(-HISTORY);
    this.sql.get(`INSERT INTO agent_status (agent, last_applied, last_attempted, conditions, history, failures, next_attempt_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(agent) DO UPDATE SET last_applied = excluded.last_applied, last_attempted = excluded.last_attempted,
      conditions = excluded.conditions, history = excluded.history, failures = excluded.failures, next_attempt_at = excluded.next_attempt_at, updated_at = excluded.updated_at`)
      .run(agent, s.lastAppliedRevision, s.lastAttemptedRevision, JSON.stringify(s.conditions), JSON.stringify(s.history), s.failures, s.nextAttemptAt, this.now());
    this.cache.set(agent, s);
    this.changes += 1;
    return s;
  }

  record(agent: string, entry: Omit<HistoryEntry, 'ts'>): void {
    this.update(agent, (s) => { s.history.push({ ts: this.now(), ...entry }); });
  }

  forget(agent: string): void {
    this.cache.delete(agent);
    this.changes += 1;
    this.sql.get('DELETE FROM agent_status WHERE agent = ?').run(agent);
  }
}
