import { HyperhiveError } from '../errors.ts';
import { AGGS, assertKey, assertStatsAgent, type Agg } from './keys.ts';

export interface StatsParams { agent: string; key: string | null; since: number; until: number; step: number; agg: Agg | null }

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(\d{1,12})(ms|s|m|h|d)$/;
export const DEFAULT_WINDOW_MS = 3_600_000;
const MAX_STEP = 366 * 86_400_000;

const bad = (field: string, message: string) => new HyperhiveError('bad_request', `${field}: ${message}`, { field });

function one(q: Record<string, unknown>, field: string): string | undefined {
  const v = q[field];
  if (v === undefined || v === '') return undefined;
  if (Array.isArray(v)) throw bad(field, 'given more than once');
  return String(v);
}

/** A duration: `90000` (ms) or `90s`, `15m`, `1h`, `7d`. */
export function parseDuration(v: string, field: string): number {
  if (/^\d{1,15}$/.test(v)) return Number(v);
  const m = DURATION.exec(v);
  if (!m) throw bad(field, `expected a duration in ms or like 10s, 5m, 1h, 1d; got ${JSON.stringify(v.slice(0, 40))}`);
  return Number(m[1]) * UNITS[m[2]!]!;
}

/** A time: ms since the epoch, an ISO 8601 date, or a negative duration relative to now (`-1h`). */
export function parseTime(v: string, field: string, now: number): number {
  if (/^\d{1,15}$/.test(v)) return Number(v);
  if (v.startsWith('-')) return now - parseDuration(v.slice(1), field);
  if (/^\d{4}-\d{2}-\d{2}/.test(v)) {
    const t = Date.parse(v);
    if (Number.isFinite(t) && t >= 0) return t;
  }
  throw bad(field, `expected ms since the epoch, an ISO 8601 date, or a duration before now like -1h; got ${JSON.stringify(v.slice(0, 40))}`);
}

/** `GET /api/stats` query parameters, validated; pure. Defaults: until = now, since = until − 1 h, step = 0 (raw rows). */
export function parseStatsParams(q: Record<string, unknown>, now: number): StatsParams {
  const agent = one(q, 'agent');
  if (agent === undefined) throw bad('agent', 'required (an agent name, or * for fleet-wide series)');
  try { assertStatsAgent(agent); } catch (e) { throw bad('agent', (e as Error).message); }
  const key = one(q, 'key') ?? null;
  if (key !== null) { try { assertKey(key); } catch (e) { throw bad('key', (e as Error).message); } }
  const untilRaw = one(q, 'until');
  const until = untilRaw === undefined ? now + 1 : parseTime(untilRaw, 'until', now);
  const sinceRaw = one(q, 'since');
  const since = sinceRaw === undefined ? until - DEFAULT_WINDOW_MS : parseTime(sinceRaw, 'since', now);
  if (since >= until) throw bad('since', `must be before until (since ${since}, until ${until})`);
  const stepRaw = one(q, 'step');
  const step = stepRaw === undefined ? 0 : parseDuration(stepRaw, 'step');
  if (step > MAX_STEP) throw bad('step', `at most ${MAX_STEP} ms`);
  const aggRaw = one(q, 'agg');
  if (aggRaw !== undefined && !(AGGS as readonly string[]).includes(aggRaw)) throw bad('agg', `one of ${AGGS.join(', ')}; got ${JSON.stringify(aggRaw.slice(0, 20))}`);
  for (const k of Object.keys(q)) {
    if (!['agent', 'key', 'since', 'until', 'step', 'agg'].includes(k)) throw bad(k, 'unknown parameter (agent, key, since, until, step, agg)');
  }
  return { agent, key, since, until, step, agg: (aggRaw as Agg | undefined) ?? null };
}
