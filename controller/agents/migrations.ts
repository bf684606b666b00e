import type { Migration } from '../db/migrations.ts';

// A counter every change to `agents` bumps (by trigger, whoever writes): the fleet listing keeps the
// records in memory and rereads them only when the counter moved. Reading 1,000 rows cost ~5 ms a
// listing; the counter costs one row.
export const agentMigrations: Migration[] = [{
  name: 'agents-version-1',
  sql: `
CREATE TABLE agents_version (id INTEGER PRIMARY KEY CHECK (id = 1), v INTEGER NOT NULL);
INSERT INTO agents_version (id, v) VALUES (1, 0);
CREATE TRIGGER agents_version_insert AFTER INSERT ON agents BEGIN UPDATE agents_version SET v = v + 1 WHERE id = 1; END;
CREATE TRIGGER agents_version_update AFTER UPDATE ON agents BEGIN UPDATE agents_version SET v = v + 1 WHERE id = 1; END;
CREATE TRIGGER agents_version_delete AFTER DELETE ON agents BEGIN UPDATE agents_version SET v = v + 1 WHERE id = 1; END;
`,
}];
