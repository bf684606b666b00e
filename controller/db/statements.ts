import type Database from 'better-sqlite3';
import type { DB } from './open.ts';

/**
 * Statements prepared once per SQL text. Preparing costs more than running the small queries the
 * stores make (a reconcile pass over 1,000 agents spent a quarter of its time in prepare), and the
 * stores build their SQL from a few fixed shapes. Only for statements used as they come: one that is
 * switched to pluck/raw/expand mode is prepared on its own, since that mode sticks to the statement.
 */
export class Statements {
  private readonly map = new Map<string, Database.Statement>();
  constructor(private readonly db: DB, private readonly max = 256) {}

  get(sql: string): Database.Statement {
    let s = this.map.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      // Shapes with values spliced in (a LIMIT, an IN list) are few; a runaway caller only refills it.
      if (this.map.size >= this.max) this.map.clear();
      this.map.set(sql, s);
    }
    return s;
  }
}
