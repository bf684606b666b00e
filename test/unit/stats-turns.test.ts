import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDb, type DB } from '../../controller/db/open.ts';
import type { TurnReport } from '../../controller/harness/io.ts';
import { buildTurnReport } from '../../controller/harness/report.ts';
import { emptyParsedStream } from '../../controller/harness/stream.ts';
import { ReconLog } from '../../controller/log.ts';
import { HarnessConditions, mergeHarnessConditions } from '../../controller/stats/harness-conditions.ts';
import { StatsStore } from '../../controller/stats/store.ts';
import { ingestTurn, turnPoints, validateTurnReport } from '../../controller/turns.ts';
import type { Condition } from '../../controller/reconciler/types.ts';

function fresh(t: { teardown(fn: () => void): void }): DB {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hh-turns-'));
  const db = openDb(path.join(dir, 'hyperhive.db'));
  t.teardown(() => { db.close(); fs.rmSync(dir, { recursive: true, force: true }); });
  return db;
}

const report = (over: Partial<TurnReport> = {}): TurnReport => ({
  class: 'ok', startedAt: '2024-01-01T00:00:00.000Z', durationMs: 2500, tools: { Bash: 2, mcp__hyperhive__send: 1, Edit: 0 },
  costUsd: 0.0125, usage: { inputTokens: 100, outputTokens: 20, cacheReadTokens: 5, cacheCreationTokens: 1 }, numTurns: 3,
  permissionDenials: 1, model: 'sonnet', sentTo: { peer: 1, operator: 0, manager: 0, system: 0 }, messages: 2, exitCode: 0, ...over,
});

test('a report the harness builds passes validation unchanged', (t) => {
  const r = buildTurnReport({
    classification: { class: 'failure', reason: 'agent CLI not found: claude' }, stream: emptyParsedStream(),
    startedAt: new Date(), durationMs: 3, model: '', messages: 1, exitCode: null,
  });
  t.deepEqual(validateTurnReport(JSON.parse(JSON.stringify(r))), r);
});

test('every bad field is named in one 400', (t) => {
  const e = t.throws(() => validateTurnReport({ ...report(), class: 'great', durationMs: -1, tools: { Bash: 1.5 }, usage: { inputTokens: 1 }, sentTo: { aliens: 1 }, exitCode: 'x' }));
  t.regex(e!.message, /^invalid turn report: class \(one of ok, context-overflow, auth, failure, hung\); durationMs/);
  for (const f of ['tools', 'usage', 'sentTo', 'exitCode']) t.true(e!.message.includes(f), f);
  t.deepEqual((e as unknown as { data: { fields: string[] } }).data.fields, ['class', 'durationMs', 'tools', 'usage', 'sentTo', 'exitCode']);
  t.throws(() => validateTurnReport([]), { message: /JSON object/ });
  t.throws(() => validateTurnReport({}), { message: /class .*startedAt .*durationMs/s });
});

test('the points of a turn', (t) => {
  const pts = Object.fromEntries(turnPoints(report()));
  t.deepEqual(pts, {
    turns: 1, 'class:ok': 1, turn_duration_ms: 2500, tool_calls: 3, cost_usd: 0.0125, tokens_input: 100, tokens_output: 20,
    tokens_cache_read: 5, tokens_cache_creation: 1, messages_received: 2, permission_denials: 1,
    'tool:Bash': 2, 'tool:mcp__hyperhive__send': 1, 'sent:peer': 1,
  });
});

test('auth stalls until an ok turn; a missing CLI stalls until a turn runs; any turn ends Stuck', (t) => {
  const db = fresh(t);
  const d = { stats: new StatsStore(db), conditions: new HarnessConditions(db), log: new ReconLog(db, { stderr: false }) };
  const reasons = () => d.conditions.get('alice').map((c) => c.reason).sort();
  t.true(ingestTurn(d, 'alice', report({ class: 'auth', error: 'Not logged in · Please run /login' })).conditionsChanged);
  t.deepEqual(reasons(), ['AuthFailed']);
  t.is(d.conditions.get('alice')[0]!.message, 'Not logged in · Please run /login');
  ingestTurn(d, 'alice', report({ class: 'failure', error: 'turn failed: network' }));
  t.deepEqual(reasons(), ['AuthFailed'], 'a plain failure does not prove the credentials work');
  ingestTurn(d, 'alice', report({ class: 'ok' }));
  t.deepEqual(reasons(), []);
  ingestTurn(d, 'alice', report({ class: 'failure', error: 'agent CLI not found: claude' }));
  t.deepEqual(reasons(), ['AgentCliMissing']);
  d.conditions.set('alice', 'Stuck', 'waiting');
  ingestTurn(d, 'alice', report({ class: 'hung', error: 'no output' }));
  t.deepEqual(reasons(), []);
  // persisted: a new instance on the same db sees what is set
  d.conditions.set('alice', 'AuthFailed', 'x');
  t.deepEqual(new HarnessConditions(db).get('alice').map((c) => c.reason), ['AuthFailed']);
  const logs = d.log.list({ agent: 'alice' }).map((e) => e.message);
  t.true(logs.some((m) => /^turn auth in 2\.5 s, \$0\.0125, 3 tool call\(s\), model sonnet: Not logged in/.test(m)));
  d.stats.flush();
  t.is(d.stats.query({ agent: 'alice', key: 'turns', since: 0, until: Date.now() + 1, step: 0 }).points.reduce((s, p) => s + p[1], 0), 5);
});

test('merge: a harness stall makes the agent Stalled and not Ready; a config stall keeps its reason', (t) => {
  const base: Condition[] = [
    { type: 'Ready', status: 'True', reason: 'Running', message: 'running' },
    { type: 'Reconciling', status: 'False', reason: 'Idle', message: '' },
    { type: 'Stalled', status: 'False', reason: 'None', message: '' },
  ];
  t.is(mergeHarnessConditions(base, []), base);
  const m = mergeHarnessConditions(base, [{ reason: 'Stuck', message: 'stuck', since: 1 }, { reason: 'AuthFailed', message: 'not logged in', since: 2 }]);
  t.deepEqual(m[0], { type: 'Ready', status: 'False', reason: 'AuthFailed', message: 'not logged in' });
  t.deepEqual(m[2], { type: 'Stalled', status: 'True', reason: 'AuthFailed', message: 'not logged in; also Stuck: stuck' });
  const cfg = mergeHarnessConditions([{ type: 'Stalled', status: 'True', reason: 'ApplyFailing', message: 'apply failed' }], [{ reason: 'Stuck', message: 'stuck', since: 1 }]);
  t.deepEqual(cfg, [
    { type: 'Ready', status: 'False', reason: 'Stuck', message: 'stuck' },
    { type: 'Stalled', status: 'True', reason: 'ApplyFailing', message: 'apply failed; also Stuck: stuck' },
  ]);
});
