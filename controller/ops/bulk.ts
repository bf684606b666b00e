import crypto from 'node:crypto';
import type { Identity } from '../auth/index.ts';
import type { AgentRecord } from '../agents/store.ts';
import { parseAgentQuery, type AgentQuery } from '../agents/query.ts';
import type { Approval } from '../approvals/store.ts';
import { HyperhiveError, isHyperhiveError } from '../errors.ts';
import { assertAgentName } from '../names.ts';

/**
 * Bulk actions over many agents: suspend, resume, and reject-requests (the "approve-none":
 * reject every open request of the selected agents, with a reason, so nothing they asked for goes
 * through). Each agent is acted on alone, with its own audit row(s) tagged with the bulk's id; a
 * failure is that agent's result, never the whole batch's.
 */
export const BULK_ACTIONS = ['suspend', 'resume', 'reject-requests'] as const;
export type BulkAction = (typeof BULK_ACTIONS)[number];
/** The most agents one bulk request may name (a filter may match any number). */
export const MAX_BULK_NAMES = 1000;
const CONCURRENCY = 4;

export interface BulkPlan {
  action: BulkAction;
  /** Exactly these agents, or every agent the filter matches when the action runs. */
  names: string[] | null;
  filter: AgentQuery | null;
  /** The rejection's reason (reject-requests). */
  reason: string;
}

export interface BulkAgentResult {
  name: string;
  /** done: acted on; unchanged: already in the asked state or nothing to reject; failed: see error. */
  result: 'done' | 'unchanged' | 'failed';
  /** Requests rejected (reject-requests). */
  rejected?: number[];
  error?: { code: string; message: string };
}

export interface BulkOutcome { id: string; action: BulkAction; matched: number; done: number; unchanged: number; failed: number; results: BulkAgentResult[] }

export interface BulkDeps {
  select: (q: AgentQuery) => string[];
  requireAgent: (name: string) => AgentRecord;
  setSuspended: (name: string, suspended: boolean, by: Identity, o: { bulk: string }) => Promise<unknown>;
  openRequests: (name: string) => Approval[];
  reject: (id: number, by: Identity, reason: string) => Promise<Approval>;
}

const bad = (field: string, message: string): HyperhiveError => new HyperhiveError('bad_request', message, { field });

/** The request body → a plan; bad input is a 400 naming the field. Pure. */
export function parseBulk(body: Record<string, unknown>): BulkPlan {
  const action = body.action;
  if (typeof action !== 'string' || !BULK_ACTIONS.includes(action as BulkAction)) {
    throw bad('action', `action must be one of ${BULK_ACTIONS.join(', ')}, got ${JSON.stringify(action ?? null)}`);
  }
  const hasNames = body.names !== undefined; const hasFilter = body.filter !== undefined;
  if (hasNames === hasFilter) throw bad(hasNames ? 'filter' : 'names', 'give either "names" (a list of agents) or "filter" (the listing\'s query parameters, e.g. {"condition": "Stalled"}), not both or neither');
  let names: string[] | null = null; let filter: AgentQuery | null = null;
  if (hasNames) {
    if (!Array.isArray(body.names) || !body.names.length) throw bad('names', '"names" must be a non-empty list of agent names');
    if (body.names.length > MAX_BULK_NAMES) throw bad('names', `"names" lists ${body.names.length} agents; at most ${MAX_BULK_NAMES} (use "filter" for more)`);
    for (const n of body.names) {
      if (typeof n !== 'string') throw bad('names', `"names" must hold strings, got ${JSON.stringify(n)}`);
      try { assertAgentName(n); } catch (e) { throw bad('names', `"names": ${(e as Error).message}`); }
    }
    names = [...new Set(body.names as string[])];
  } else {
    const f = body.filter;
    if (!f || typeof f !== 'object' || Array.isArray(f)) throw bad('filter', '"filter" must be an object of the listing\'s query parameters, e.g. {"condition": "Stalled", "q": "web"}');
    const raw: Record<string, string> = {};
    for (const [k, v] of Object.entries(f)) {
      if (['limit', 'offset', 'sort'].includes(k)) throw bad('filter', `"filter" selects every match: ${k} has no place in it`);
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw bad('filter', `"filter.${k}" must be a string`);
      raw[k] = typeof v === 'boolean' ? (v ? '1' : '0') : String(v);
    }
    try { filter = parseAgentQuery(raw); } catch (e) {
      if (isHyperhiveError(e)) throw bad('filter', `filter: ${e.message}`);
      throw e;
    }
  }
  const reason = typeof body.reason === 'string' && body.reason.trim() ? body.reason.trim().slice(0, 500) : 'rejected in bulk';
  return { action: action as BulkAction, names, filter, reason };
}

async function actOn(d: BulkDeps, p: BulkPlan, id: string, name: string, by: Identity): Promise<BulkAgentResult> {
  try {
    const a = d.requireAgent(name);
    if (p.action === 'suspend' || p.action === 'resume') {
      const want = p.action === 'suspend';
      // Idempotent: an agent already in the asked state gets no audit row, and says so.
      if (a.suspended === want) return { name, result: 'unchanged' };
      await d.setSuspended(name, want, by, { bulk: id });
      return { name, result: 'done' };
    }
    const open = d.openRequests(name);
    if (!open.length) return { name, result: 'unchanged', rejected: [] };
    const rejected: number[] = [];
    for (const r of open) {
      await d.reject(r.id, by, `${p.reason} (bulk ${id})`);
      rejected.push(r.id);
    }
    return { name, result: 'done', rejected };
  } catch (e) {
    if (!isHyperhiveError(e)) throw e;
    return { name, result: 'failed', error: { code: e.code, message: e.message } };
  }
}

/** Runs the plan, a few agents at a time; the outcome lists every agent in name order. */
export async function runBulk(d: BulkDeps, p: BulkPlan, by: Identity): Promise<BulkOutcome> {
  const id = crypto.randomBytes(4).toString('hex');
  const names = p.names ?? d.select(p.filter!);
  const results: BulkAgentResult[] = new Array(names.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, names.length) }, async () => {
    while (next < names.length) {
      const i = next++;
      results[i] = await actOn(d, p, id, names[i]!, by);
    }
  }));
  const count = (r: BulkAgentResult['result']) => results.filter((x) => x.result === r).length;
  return { id, action: p.action, matched: names.length, done: count('done'), unchanged: count('unchanged'), failed: count('failed'), results };
}
