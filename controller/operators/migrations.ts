import type { Migration } from '../db/migrations.ts';

// Named operators beyond the first (`operator`, whose token stays in <state>/operator.token). Only the
// SHA-256 of a token is kept: the token itself is shown once, when the operator is added.
export const operatorMigrations: Migration[] = [{
  name: 'operators-1',
  sql: `
CREATE TABLE operators (
  name TEXT PRIMARY KEY,
  token_sha256 TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL
);
`,
}];
