import type { Migration } from '../db/migrations.ts';

// One row per turn (the attempt the harness streamed, keyed by its UUID, or a report that came
// without events) and one per event. AUTOINCREMENT: a pruned turn's id is never reused, so a link to
// it (a chart point, a log line) never shows another turn. `bytes` is the sum of the events' JSON,
// what retention counts.
export const transcriptMigrations: Migration[] = [{
  name: 'transcripts-1',
  sql: `
CREATE TABLE transcripts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  agent TEXT NOT NULL,
  key TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  ended_at INTEGER,
  status TEXT NOT NULL DEFAULT 'running',
  class TEXT,
  error TEXT,
  model TEXT,
  duration_ms REAL,
  cost_usd REAL,
  report TEXT NOT NULL DEFAULT '{}',
  events INTEGER NOT NULL DEFAULT 0,
  bytes INTEGER NOT NULL DEFAULT 0,
  dropped INTEGER NOT NULL DEFAULT 0,
  UNIQUE (agent, key)
);
CREATE INDEX transcripts_agent ON transcripts(agent, id);
CREATE TABLE transcript_events (
  transcript_id INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  kind TEXT NOT NULL,
  at INTEGER NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (transcript_id, seq)
) WITHOUT ROWID;
`,
}];
