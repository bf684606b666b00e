import type { AgentState } from './store.ts';
import type { Condition } from '../reconciler/types.ts';
import { HyperhiveError } from '../errors.ts';

/**
 * The fleet listing's filters, sort and page (GET /api/agents, the dashboard, `hyperhive agents`):
 * parsed from query parameters once, then applied by `planListing` to cheap per-agent summaries, so
 * the expensive per-agent view (refs, model, runtime) is built for the page only.
 */

export const CONDITIONS = ['Ready', 'Stalled', 'Reconciling'] as const;
export type ConditionType = (typeof CONDITIONS)[number];
export const STATES: readonly AgentState[] = ['active', 'draft', 'pending', 'kept'];
export const SORT_KEYS = ['name', 'state', 'condition', 'created', 'updated'] as const;
export type SortKey = (typeof SORT_KEYS)[number];
/** The largest page one request may ask for. */
export const MAX_LIMIT = 1000;
/** The dashboard's page when none is asked for. */
export const DEFAULT_PAGE = 50;

export interface AgentQuery {
  /** Include kept (destroyed) agents; implied by state=kept. */
  all: boolean;
  condition: ConditionType | null;
  /** The reason of the true condition (`condition` if given, else any), e.g. BuildFailed. */
  reason: string | null;
  state: AgentState[] | null;
  suspended: boolean | null;
  /** A part of the name (lower case). */
  q: string | null;
  sort: SortKey;
  desc: boolean;
  /** Null: every match (the API's backward-compatible default). */
  limit: number | null;
  offset: number;
}

/** What planning needs of an agent: all in memory (record and status), no git. */
export interface AgentSummary {
  name: string;
  state: AgentState;
  suspended: boolean;
  createdAt: number;
  updatedAt: number;
  conditions: Condition[];
}

/** Agents per condition and state across the whole fleet (kept included), for the counts at the top. */
export interface FleetCounts {
  total: number;
  Ready: number;
  Stalled: number;
  Reconciling: number;
  /** Stalled agents per reason. */
  stalledReasons: Record<string, number>;
  suspended: number;
  active: number;
  draft: number;
  pending: number;
  kept: number;
}

export const EMPTY_QUERY: AgentQuery = { all: false, condition: null, reason: null, state: null, suspended: null, q: null, sort: 'name', desc: false, limit: null, offset: 0 };

type Raw = Record<string, string | string[] | undefined>;
const bad = (field: string, message: string): HyperhiveError => new HyperhiveError('bad_request', message, { field });
const shown = (v: string): string => JSON.stringify(v.slice(0, 40));
const REASON = /^[A-Za-z][A-Za-z0-9]{0,63}$/;
const NAME_PART = /^[a-z0-9-]{1,32}$/;
const DECIMAL = /^(0|[1-9][0-9]*)$/;

function one(raw: Raw, field: string): string | undefined {
  const v = raw[field];
  if (Array.isArray(v)) {
    if (v.length > 1) throw bad(field, `${field} may be given once, got ${v.length} values`);
    return v[0];
  }
  return v;
}

function flag(raw: Raw, field: string): boolean | null {
  const v = one(raw, field);
  if (v === undefined) return null;
  if (v === '1' || v === 'true') return true;
  if (v === '0' || v === 'false') return false;
  throw bad(field, `${field} must be 1 or 0 (true or false), got ${shown(v)}`);
}

function int(raw: Raw, field: string, min: number, max: number): number | null {
  const v = one(raw, field);
  if (v === undefined) return null;
  const n = DECIMAL.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw bad(field, `${field} must be a decimal integer from ${min} to ${max}, got ${shown(v)}`);
  return n;
}

/** Query parameters → a query; a bad value is a 400 naming the parameter and what it may be. Unknown parameters are ignored. */
export function parseAgentQuery(raw: Raw, defaults: Partial<AgentQuery> = {}): AgentQuery {
  const q: AgentQuery = { ...EMPTY_QUERY, ...defaults };
  const all = flag(raw, 'all');
  if (all !== null) q.all = all;

  const condition = one(raw, 'condition');
  if (condition !== undefined && condition !== '') {
    const c = CONDITIONS.find((x) => x.toLowerCase() === condition.toLowerCase());
    if (!c) throw bad('condition', `condition must be one of ${CONDITIONS.join(', ')}, got ${shown(condition)}`);
    q.condition = c;
  }
  const reason = one(raw, 'reason');
  if (reason !== undefined && reason !== '') {
    if (!REASON.test(reason)) throw bad('reason', `reason must be a condition reason such as BuildFailed (a letter, then letters and digits, at most 64), got ${shown(reason)}`);
    q.reason = reason;
  }
  const state = one(raw, 'state');
  if (state !== undefined && state !== '') {
    const parts = state.split(',').filter(Boolean);
    for (const s of parts) if (!STATES.includes(s as AgentState)) throw bad('state', `state must be one or more of ${STATES.join(', ')} (comma-separated), got ${shown(s)}`);
    q.state = [...new Set(parts)] as AgentState[];
  }
  const suspended = flag(raw, 'suspended');
  if (suspended !== null) q.suspended = suspended;
  const name = one(raw, 'q');
  if (name !== undefined && name !== '') {
    const n = name.trim().toLowerCase();
    if (!NAME_PART.test(n)) throw bad('q', `q must be a part of an agent name (a-z, 0-9, -, at most 32), got ${shown(name)}`);
    q.q = n;
  }
  const sort = one(raw, 'sort');
  if (sort !== undefined && sort !== '') {
    const desc = sort.startsWith('-');
    const key = desc ? sort.slice(1) : sort;
    if (!SORT_KEYS.includes(key as SortKey)) throw bad('sort', `sort must be one of ${SORT_KEYS.join(', ')}, optionally with a leading - for descending, got ${shown(sort)}`);
    q.sort = key as SortKey; q.desc = desc;
  }
  const limit = int(raw, 'limit', 1, MAX_LIMIT);
  if (limit !== null) q.limit = limit;
  const offset = int(raw, 'offset', 0, Number.MAX_SAFE_INTEGER);
  if (offset !== null) q.offset = offset;
  return q;
}

/** The query as URL parameters (only what differs from the defaults): links keep the filter while paging. */
export function queryParams(q: AgentQuery, over: Partial<AgentQuery> = {}): URLSearchParams {
  const x = { ...q, ...over };
  const p = new URLSearchParams();
  if (x.all) p.set('all', '1');
  if (x.condition) p.set('condition', x.condition);
  if (x.reason) p.set('reason', x.reason);
  if (x.state) p.set('state', x.state.join(','));
  if (x.suspended !== null) p.set('suspended', x.suspended ? '1' : '0');
  if (x.q) p.set('q', x.q);
  if (x.sort !== 'name' || x.desc) p.set('sort', `${x.desc ? '-' : ''}${x.sort}`);
  if (x.limit !== null) p.set('limit', String(x.limit));
  if (x.offset) p.set('offset', String(x.offset));
  return p;
}

/** Whether the query narrows the fleet at all (paging and sort aside). */
export const isFiltered = (q: AgentQuery): boolean => !!(q.condition || q.reason || q.state || q.suspended !== null || q.q);

const trueConditions = (a: AgentSummary): Condition[] => a.conditions.filter((c) => c.status === 'True');

/** What the counts and filters ask of a condition list: which types are true, and the Stalled reason. */
interface Flags { Ready: boolean; Stalled: boolean; Reconciling: boolean; stalledReasons: string[] }
// Per list, by identity: an agent's conditions stay the same array until its status changes, and every
// request counts the whole fleet (1,000 agents) for a page of 50.
const flagsOf = new WeakMap<Condition[], Flags>();
function flags(conditions: Condition[]): Flags {
  let f = flagsOf.get(conditions);
  if (!f) {
    f = { Ready: false, Stalled: false, Reconciling: false, stalledReasons: [] };
    for (const c of conditions) {
      if (c.status !== 'True') continue;
      if (c.type === 'Ready' || c.type === 'Stalled' || c.type === 'Reconciling') f[c.type] = true;
      if (c.type === 'Stalled') f.stalledReasons.push(c.reason);
    }
    flagsOf.set(conditions, f);
  }
  return f;
}
const has = (a: AgentSummary, type: ConditionType): boolean => flags(a.conditions)[type];

export function matches(a: AgentSummary, q: AgentQuery): boolean {
  const kept = a.state === 'kept';
  if (q.state ? !q.state.includes(a.state) : kept && !q.all) return false;
  if (q.suspended !== null && a.suspended !== q.suspended) return false;
  if (q.q && !a.name.includes(q.q)) return false;
  if (q.condition && !has(a, q.condition)) return false;
  if (q.reason && !trueConditions(a).some((c) => c.reason === q.reason && (!q.condition || c.type === q.condition))) return false;
  return true;
}

// Problems first when sorted by condition: what an operator looks at first.
const CONDITION_RANK = (a: AgentSummary): number => (has(a, 'Stalled') ? 0 : has(a, 'Reconciling') ? 1 : has(a, 'Ready') ? 2 : 3);
const STATE_RANK: Record<AgentState, number> = { active: 0, pending: 1, draft: 2, kept: 3 };

function compare(key: SortKey): (a: AgentSummary, b: AgentSummary) => number {
  switch (key) {
    case 'name': return () => 0;
    case 'state': return (a, b) => STATE_RANK[a.state] - STATE_RANK[b.state];
    case 'condition': return (a, b) => CONDITION_RANK(a) - CONDITION_RANK(b);
    case 'created': return (a, b) => a.createdAt - b.createdAt;
    case 'updated': return (a, b) => a.updatedAt - b.updatedAt;
  }
}

export function countFleet(all: AgentSummary[]): FleetCounts {
  const c: FleetCounts = { total: all.length, Ready: 0, Stalled: 0, Reconciling: 0, stalledReasons: {}, suspended: 0, active: 0, draft: 0, pending: 0, kept: 0 };
  for (const a of all) {
    c[a.state] += 1;
    if (a.suspended) c.suspended += 1;
    const f = flags(a.conditions);
    if (f.Ready) c.Ready += 1;
    if (f.Stalled) c.Stalled += 1;
    if (f.Reconciling) c.Reconciling += 1;
    for (const r of f.stalledReasons) c.stalledReasons[r] = (c.stalledReasons[r] ?? 0) + 1;
  }
  return c;
}

export interface Listing<T extends AgentSummary> { page: T[]; total: number; counts: FleetCounts }

/** Filter, sort (ties by name, so pages are stable), page. Pure: the same summaries give the same page. */
export function planListing<T extends AgentSummary>(all: T[], q: AgentQuery): Listing<T> {
  const cmp = compare(q.sort);
  const dir = q.desc ? -1 : 1;
  const hits = all.filter((a) => matches(a, q)).sort((a, b) => dir * (cmp(a, b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)));
  const page = q.limit === null ? hits.slice(q.offset) : hits.slice(q.offset, q.offset + q.limit);
  // Counted when read: the dashboard shows them, the API does not (a pass over every agent).
  let counts: FleetCounts | undefined;
  return { page, total: hits.length, get counts() { return counts ??= countFleet(all); } };
}
