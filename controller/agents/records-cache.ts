import type { DB } from '../db/open.ts';
import type { AgentRecord, AgentStore } from './store.ts';

/**
 * Every agent's record (kept included), held in memory and reread only when the `agents_version`
 * counter (bumped by triggers on any write to `agents`) moved: the fleet listing reads it on every
 * request, and 1,000 rows cost more than the page it serves.
 */
export class AgentRecordsCache {
  private version = -1;
  private records: AgentRecord[] = [];
  private readonly versionStmt;
  constructor(db: DB, private readonly store: AgentStore) {
    this.versionStmt = db.prepare('SELECT v FROM agents_version WHERE id = 1').pluck();
  }

  all(): AgentRecord[] {
    const v = this.versionStmt.get() as number;
    if (v !== this.version) { this.records = this.store.list({ all: true }); this.version = v; }
    return this.records;
  }
}
