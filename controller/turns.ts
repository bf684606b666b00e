import { HyperhiveError } from './errors.ts';
import type { TurnClass } from './harness/classify.ts';
import type { RecipientClass, TurnReport } from './harness/io.ts';
import type { ReconLog } from './log.ts';
import type { HarnessConditions } from './stats/harness-conditions.ts';
import { toolKey } from './stats/keys.ts';
import type { StatsStore } from './stats/store.ts';
import { TURN_KEY } from './transcripts/validate.ts';

export const TURN_CLASSES: readonly TurnClass[] = ['ok', 'context-overflow', 'auth', 'failure', 'hung'];
const RECIPIENTS: readonly RecipientClass[] = ['peer', 'operator', 'manager', 'system'];
const USAGE_FIELDS = ['inputTokens', 'outputTokens', 'cacheReadTokens', 'cacheCreationTokens'] as const;
/** The harness's message when the agent CLI could not be started (run-cli.ts). */
export const CLI_MISSING = /agent CLI not found|ENOENT|command not found/i;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const count = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const amount = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/**
 * A turn report as POSTed by the harness, checked field by field; pure. Throws one 400 naming every
 * bad field. Unknown fields are ignored (a newer harness may send more).
 */
export function validateTurnReport(body: unknown): TurnReport {
  if (!isObj(body)) throw new HyperhiveError('bad_request', 'a turn report is a JSON object (see TurnReport in controller/harness/io.ts)');
  const bad: string[] = [];
  const b = body;
  if (!(TURN_CLASSES as readonly unknown[]).includes(b.class)) bad.push(`class (one of ${TURN_CLASSES.join(', ')})`);
  if (typeof b.startedAt !== 'string' || !Number.isFinite(Date.parse(b.startedAt))) bad.push('startedAt (an ISO 8601 time)');
  if (!amount(b.durationMs)) bad.push('durationMs (a number ≥ 0)');
  if (!isObj(b.tools) || Object.keys(b.tools).length > 1000 || Object.entries(b.tools).some(([k, v]) => !k || k.length > 200 || !count(v))) bad.push('tools (an object of tool name → count ≥ 0, at most 1000 tools)');
  if (!amount(b.costUsd)) bad.push('costUsd (a number ≥ 0)');
  if (!isObj(b.usage) || USAGE_FIELDS.some((f) => !amount((b.usage as Record<string, unknown>)[f]))) bad.push(`usage (${USAGE_FIELDS.join(', ')}: numbers ≥ 0)`);
  if (!count(b.numTurns)) bad.push('numTurns (an integer ≥ 0)');
  if (!count(b.permissionDenials)) bad.push('permissionDenials (an integer ≥ 0)');
  if (typeof b.model !== 'string' || b.model.length > 200) bad.push('model (a string)');
  if (!isObj(b.sentTo) || Object.entries(b.sentTo).some(([k, v]) => !(RECIPIENTS as readonly string[]).includes(k) || !count(v))) bad.push(`sentTo (counts ≥ 0 for ${RECIPIENTS.join(', ')})`);
  if (b.error !== undefined && typeof b.error !== 'string') bad.push('error (a string)');
  if (b.sessionId !== undefined && (typeof b.sessionId !== 'string' || b.sessionId.length > 200)) bad.push('sessionId (a string)');
  if (b.messages !== undefined && !count(b.messages)) bad.push('messages (an integer ≥ 0)');
  if (b.exitCode !== undefined && b.exitCode !== null && !(typeof b.exitCode === 'number' && Number.isInteger(b.exitCode))) bad.push('exitCode (an integer or null)');
  if (b.transcript !== undefined && (typeof b.transcript !== 'string' || !TURN_KEY.test(b.transcript))) bad.push('transcript (the key of the streamed turn: 1 to 100 letters, digits, - or _)');
  if (bad.length) throw new HyperhiveError('bad_request', `invalid turn report: ${bad.join('; ')}`, { fields: bad.map((f) => f.split(' ')[0]) });
  const usage = b.usage as Record<string, number>;
  const sentTo = b.sentTo as Record<string, number>;
  const r: TurnReport = {
    class: b.class as TurnClass, startedAt: b.startedAt as string, durationMs: b.durationMs as number,
    tools: { ...(b.tools as Record<string, number>) }, costUsd: b.costUsd as number,
    usage: { inputTokens: usage.inputTokens!, outputTokens: usage.outputTokens!, cacheReadTokens: usage.cacheReadTokens!, cacheCreationTokens: usage.cacheCreationTokens! },
    numTurns: b.numTurns as number, permissionDenials: b.permissionDenials as number, model: b.model as string,
    sentTo: { peer: sentTo.peer ?? 0, operator: sentTo.operator ?? 0, manager: sentTo.manager ?? 0, system: sentTo.system ?? 0 },
  };
  if (typeof b.error === 'string') r.error = b.error.slice(0, 2000);
  if (typeof b.sessionId === 'string') r.sessionId = b.sessionId;
  if (b.messages !== undefined) r.messages = b.messages as number;
  if (b.exitCode !== undefined) r.exitCode = b.exitCode as number | null;
  if (typeof b.transcript === 'string') r.transcript = b.transcript;
  return r;
}

/** The stats points of one turn; pure. */
export function turnPoints(r: TurnReport): [key: string, value: number][] {
  const tools = Object.entries(r.tools).filter(([, n]) => n > 0);
  const pts: [string, number][] = [
    ['turns', 1], [`class:${r.class}`, 1], ['turn_duration_ms', r.durationMs],
    ['tool_calls', tools.reduce((s, [, n]) => s + n, 0)], ['cost_usd', r.costUsd],
    ['tokens_input', r.usage.inputTokens], ['tokens_output', r.usage.outputTokens],
    ['tokens_cache_read', r.usage.cacheReadTokens], ['tokens_cache_creation', r.usage.cacheCreationTokens],
  ];
  if (r.messages !== undefined) pts.push(['messages_received', r.messages]);
  if (r.permissionDenials) pts.push(['permission_denials', r.permissionDenials]);
  for (const [tool, n] of tools) pts.push([toolKey(tool), n]);
  for (const rc of RECIPIENTS) if (r.sentTo[rc]) pts.push([`sent:${rc}`, r.sentTo[rc]]);
  return pts;
}

export interface TurnIngestDeps {
  stats: StatsStore;
  conditions: HarnessConditions;
  log: ReconLog;
  /** Called after a report was recorded (metrics, notes size, change events). */
  onTurn?: (agent: string, r: TurnReport) => void;
  now?: () => number;
}

const fmtDuration = (ms: number): string => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`);

/** Records a validated turn report: stats points, a log line, and the harness conditions it implies. */
export function ingestTurn(d: TurnIngestDeps, agent: string, r: TurnReport, logData: Record<string, unknown> = {}): { points: number; conditionsChanged: boolean } {
  const ts = (d.now ?? Date.now)();
  const pts = turnPoints(r);
  for (const [k, v] of pts) d.stats.record(agent, k, v, ts);
  const tools = pts.find(([k]) => k === 'tool_calls')![1];
  const msg = `turn ${r.class} in ${fmtDuration(r.durationMs)}, $${r.costUsd.toFixed(4)}, ${tools} tool call(s)${r.model ? `, model ${r.model}` : ''}${r.error ? `: ${r.error.slice(0, 300)}` : ''}`;
  const data = { class: r.class, durationMs: r.durationMs, costUsd: r.costUsd, tools, model: r.model, ...logData };
  if (r.class === 'ok') d.log.info(agent, 'turn', msg, data); else d.log.warn(agent, 'turn', msg, data);

  let changed = d.conditions.clear(agent, ['Stuck']);
  if (r.class === 'auth') {
    changed = d.conditions.set(agent, 'AuthFailed', r.error || 'the agent CLI is not authenticated') || changed;
    changed = d.conditions.clear(agent, ['AgentCliMissing']) || changed;
  } else if (r.class === 'failure' && r.error && CLI_MISSING.test(r.error)) {
    changed = d.conditions.set(agent, 'AgentCliMissing', r.error) || changed;
  } else {
    changed = d.conditions.clear(agent, ['AgentCliMissing']) || changed;
    // Only a turn that reached the model proves the credentials work again.
    if (r.class === 'ok' || r.class === 'context-overflow') changed = d.conditions.clear(agent, ['AuthFailed']) || changed;
  }
  d.onTurn?.(agent, r);
  return { points: pts.length, conditionsChanged: changed };
}
