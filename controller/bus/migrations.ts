import type { Migration } from '../db/migrations.ts';

// `sender`/`recipient` rather than from/to: both are SQL keywords.
// Ids are plain rowids (max + 1): AUTOINCREMENT would cost a sqlite_sequence write per send; instead
// prune never deletes the newest row, so an id is never reused and stays a safe cursor.
// One index only, on the un-acked rows (the hot path): every further index is another page written
// per send; the UI's listings and prune scan the table, which retention keeps small.
// `delivery` records which Bus instance handed the message out: a recv acks only what its own
// instance delivered, so whatever a killed controller delivered but never saw acked comes again.
export const busMigrations: Migration[] = [{
  name: 'bus-1',
  sql: `
CREATE TABLE bus_messages (
  id INTEGER PRIMARY KEY,
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
`,
}, {
  // The inbox quota (limits.ts) reads each recipient's unread count and bytes at every send: with
  // `bytes` (and `acked_at`, always NULL here, which sqlite still wants to see) in the un-acked
  // index, that count is a scan of index entries only — without them each row was read from the
  // table, through the overflow pages of its body, since both columns come after it. The index
  // stays the one page written per send.
  name: 'bus-2',
  sql: `
ALTER TABLE bus_messages ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;
UPDATE bus_messages SET bytes = length(CAST(body AS BLOB));
DROP INDEX bus_unacked;
CREATE INDEX bus_unacked ON bus_messages(recipient, id, bytes, acked_at) WHERE acked_at IS NULL;
`,
}];
