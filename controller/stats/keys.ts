import { HyperhiveError } from '../errors.ts';
import { assertAgentName } from '../names.ts';

/** How points of a series combine into one value per bucket (and per raw row). */
export type Agg = 'sum' | 'avg' | 'min' | 'max' | 'count' | 'last' | 'p50' | 'p95' | 'p99';
export const AGGS: readonly Agg[] = ['sum', 'avg', 'min', 'max', 'count', 'last', 'p50', 'p95', 'p99'];

/** The fleet-wide pseudo agent (approval queue length, …). */
export const FLEET = '*';

export interface KeyInfo { agg: Agg; unit: string; help: string }

// Known series and how they are read by default. Families (`tool:<name>`, `class:<class>`,
// `sent:<recipient class>`) are matched by their prefix.
export const KEYS: Record<string, KeyInfo> = {
  turns: { agg: 'sum', unit: 'turns', help: 'one point per reported turn; sum per minute = turns/min' },
  turn_duration_ms: { agg: 'p50', unit: 'ms', help: 'duration of each turn (p50/p95/p99 computed per bucket)' },
  tool_calls: { agg: 'avg', unit: 'calls', help: 'tool calls per turn' },
  cost_usd: { agg: 'sum', unit: 'USD', help: 'cost per turn' },
  tokens_input: { agg: 'sum', unit: 'tokens', help: 'input tokens per turn' },
  tokens_output: { agg: 'sum', unit: 'tokens', help: 'output tokens per turn' },
  tokens_cache_read: { agg: 'sum', unit: 'tokens', help: 'cache-read input tokens per turn' },
  tokens_cache_creation: { agg: 'sum', unit: 'tokens', help: 'cache-creation input tokens per turn' },
  messages_received: { agg: 'sum', unit: 'messages', help: 'messages a turn answered' },
  permission_denials: { agg: 'sum', unit: 'denials', help: 'tool uses refused by the permission rules' },
  inbox_depth: { agg: 'max', unit: 'messages', help: 'un-acked messages, sampled every ~10 s (max over the bucket)' },
  notes_bytes: { agg: 'last', unit: 'bytes', help: 'size of notes.md on live, when a turn is reported or live changes' },
  approvals_pending: { agg: 'max', unit: 'requests', help: 'open approval requests (fleet: agent=*)' },
  compactions: { agg: 'sum', unit: 'compactions', help: 'notes compactions committed on live' },
  bus_refused: { agg: 'sum', unit: 'messages', help: 'sends of this agent the bus quotas refused (inbox full or sending too fast)' },
  since_last_turn_ms: { agg: 'last', unit: 'ms', help: 'computed, not stored: time since the agent\'s last turn at each bucket end' },
};

export const FAMILIES: Record<string, KeyInfo> = {
  'tool:': { agg: 'sum', unit: 'calls', help: 'uses of one tool (tool:<name>)' },
  'class:': { agg: 'sum', unit: 'turns', help: 'turns of one class (class:ok, class:auth, …)' },
  'sent:': { agg: 'sum', unit: 'messages', help: 'messages sent by recipient class (sent:peer, sent:operator, sent:manager, sent:system)' },
};

/** Computed on query from other series; never stored. */
export const COMPUTED = new Set(['since_last_turn_ms']);

const KEY_RE = /^[a-z][a-z0-9_]{0,63}(:[A-Za-z0-9_.*()-][A-Za-z0-9_.:*()@/ -]{0,199})?$/;

export function keyInfo(key: string): KeyInfo {
  const k = KEYS[key];
  if (k) return k;
  const fam = Object.keys(FAMILIES).find((p) => key.startsWith(p));
  return fam ? FAMILIES[fam]! : { agg: 'avg', unit: '', help: '' };
}

export function isValidKey(key: unknown): key is string {
  return typeof key === 'string' && key.length <= 264 && KEY_RE.test(key);
}

export function assertKey(key: unknown): asserts key is string {
  if (!isValidKey(key)) {
    const shown = typeof key === 'string' ? JSON.stringify(key.slice(0, 80)) : typeof key;
    throw new HyperhiveError('bad_request', `key ${shown} is invalid: a key is a lowercase name (e.g. turns, cost_usd) optionally followed by :<detail> (e.g. tool:Bash)`, { field: 'key' });
  }
}

/** An agent name or '*' (fleet). */
export function assertStatsAgent(agent: unknown): asserts agent is string {
  if (agent === FLEET) return;
  assertAgentName(agent as string);
}

/** The tool name a per-tool key carries, made safe for the key grammar (long or odd names are cut). */
export function toolKey(tool: string): string {
  const clean = tool.replace(/[^A-Za-z0-9_.:*()@/ -]/g, '_').slice(0, 199);
  return `tool:${/^[A-Za-z0-9_.*()-]/.test(clean) ? clean : `_${clean.slice(0, 198)}`}`;
}
