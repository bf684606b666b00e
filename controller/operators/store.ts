import type { DB } from '../db/open.ts';

export interface OperatorRecord { name: string; tokenSha256: string; createdAt: number; createdBy: string }

const fromRow = (r: Record<string, unknown>): OperatorRecord => ({
  name: r.name as string, tokenSha256: r.token_sha256 as string, createdAt: r.created_at as number, createdBy: r.created_by as string,
});

/** The named operators' rows (the first operator, `operator`, has its token file instead). */
export class OperatorStore {
  constructor(private db: DB, private now: () => number = Date.now) {}

  list(): OperatorRecord[] {
    return (this.db.prepare('SELECT * FROM operators ORDER BY created_at, name').all() as Record<string, unknown>[]).map(fromRow);
  }

  get(name: string): OperatorRecord | null {
    const r = this.db.prepare('SELECT * FROM operators WHERE name = ?').get(name) as Record<string, unknown> | undefined;
    return r ? fromRow(r) : null;
  }

  insert(name: string, tokenSha256: string, createdBy: string): OperatorRecord {
    this.db.prepare('INSERT INTO operators (name, token_sha256, created_at, created_by) VALUES (?, ?, ?, ?)').run(name, tokenSha256, this.now(), createdBy);
    return this.get(name)!;
  }

  delete(name: string): boolean {
    return this.db.prepare('DELETE FROM operators WHERE name = ?').run(name).changes > 0;
  }
}
