import type { Migration } from '../db/migrations.ts';

// `sender`/`recipient` rather than from/to: both are SQL keywords.
// AUTOINCREMENT so ids stay monotonic even after prune deletes the newest acked rows.
// `delivery` records which Bus instance handed the message out: a recv acks only what its own
// instance delivered, so whatever a killed controller delivered but never saw acked comes again.
export const busMigrations: Migration[] = [{
  name: 'bus-1',
  sql: `
CREATE TABLE bus_messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  sender TEXT NOT NULL,
  recipient TEXT NOT NULL,
  kind TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  delivered_at INTEGER,
  delivery TEXT,
  deliveries INTEGER NOT NULL DEFAULT 0,
  acked_at INTEGER
);
CREATE INDEX bus_unacked ON bus_messages(recipient, id) WHERE acked_at IS NULL;
CREATE INDEX bus_acked ON bus_messages(acked_at) WHERE acked_at IS NOT NULL;
CREATE INDEX bus_recipient ON bus_messages(recipient, id);
CREATE INDEX bus_sender ON bus_messages(sender, id);
`,
}];
