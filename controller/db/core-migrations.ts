import type { Migration } from './migrations.ts';

export const coreMigrations: Migration[] = [{
  name: 'core-1',
  sql: `
CREATE TABLE agents (
  name TEXT PRIMARY KEY,
  state TEXT NOT NULL CHECK (state IN ('active','draft','pending','kept')),
  suspended INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE approvals (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  agent TEXT NOT NULL,
  base TEXT,
  head TEXT,
  status TEXT NOT NULL,
  paths TEXT NOT NULL DEFAULT '[]',
  proposer TEXT,
  created_at INTEGER NOT NULL,
  decided_by TEXT,
  decided_at INTEGER,
  reason TEXT,
  patch_hash TEXT,
  superseded_by INTEGER,
  note TEXT,
  error TEXT,
  data TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX approvals_agent_status ON approvals(agent, status);
CREATE INDEX approvals_status ON approvals(status, id);
CREATE TABLE approval_votes (
  approval_id INTEGER NOT NULL REFERENCES approvals(id),
  voter TEXT NOT NULL,
  decision TEXT NOT NULL,
  reason TEXT,
  at INTEGER NOT NULL,
  PRIMARY KEY (approval_id, voter)
);
CREATE TABLE log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ts INTEGER NOT NULL,
  agent TEXT,
  level TEXT NOT NULL,
  event TEXT NOT NULL,
  message TEXT NOT NULL,
  data TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX log_agent ON log(agent, id);
CREATE TABLE audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ts INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  agent TEXT,
  approval_id INTEGER,
  base TEXT,
  head TEXT,
  patch_hash TEXT,
  reason TEXT,
  data TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_agent ON audit(agent, id);
CREATE TABLE ref_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  agent TEXT NOT NULL,
  ref TEXT NOT NULL,
  old TEXT NOT NULL,
  new TEXT NOT NULL,
  pusher TEXT NOT NULL,
  ts INTEGER NOT NULL
);
CREATE INDEX ref_events_lookup ON ref_events(agent, ref, new);
CREATE TABLE agent_status (
  agent TEXT PRIMARY KEY,
  last_applied TEXT,
  last_attempted TEXT,
  conditions TEXT NOT NULL DEFAULT '[]',
  history TEXT NOT NULL DEFAULT '[]',
  failures INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER,
  updated_at INTEGER NOT NULL
);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`,
}];
