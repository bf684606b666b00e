import type { Migration } from '../db/migrations.ts';

// One row per point: (agent, key, ts) → value. `agent` is an agent name or '*' for fleet-wide series.
// Clustered on (agent, key, ts) (WITHOUT ROWID) so a series query is one contiguous range scan.
// Points of one series in the same millisecond merge into one row (n counts them, vmin/vmax keep the
// extremes), the same shape a downsampled row has: `value` is always the SUM of what the row stands for,
// so sums stay exact and averages are value/n at any resolution. `res` is 0 for raw rows and the bucket
// width in ms for downsampled ones (retention treats them differently).
// No second index: retention runs rarely and may scan; every index would be another write per point.
// agent_harness holds the conditions the reconciler cannot observe (auth failures, a missing CLI,
// stuck agents), so a restarted controller still shows them.
export const statsMigrations: Migration[] = [{
  name: 'stats-1',
  sql: `
CREATE TABLE stats (
  agent TEXT NOT NULL,
  key TEXT NOT NULL,
  ts INTEGER NOT NULL,
  value REAL NOT NULL,
  n INTEGER NOT NULL DEFAULT 1,
  vmin REAL,
  vmax REAL,
  res INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (agent, key, ts)
) WITHOUT ROWID;
CREATE TABLE agent_harness (
  agent TEXT NOT NULL,
  reason TEXT NOT NULL,
  message TEXT NOT NULL,
  since INTEGER NOT NULL,
  PRIMARY KEY (agent, reason)
);
`,
}];
