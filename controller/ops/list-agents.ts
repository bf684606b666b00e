import type { AgentRecord } from '../agents/store.ts';
import { planListing, queryParams, type AgentQuery, type AgentSummary, type FleetCounts, type Listing } from '../agents/query.ts';
import type { Condition } from '../reconciler/types.ts';

type Planned = AgentSummary & { record: AgentRecord };

export interface ListAgentsDeps<V> {
  /** Every agent's record (kept included): from memory while unchanged (a new array when any changed). */
  records: () => AgentRecord[];
  /** The agent's conditions as every view shows them (the reconciler's, merged with the other sources); in memory. */
  conditions: (name: string) => Condition[];
  /** The full view (refs, model, runtime): the expensive part, built for the page only. */
  view: (a: AgentRecord) => Promise<V>;
  /** Plans kept while nothing they were made of changed. */
  memo?: PlanMemo;
  /** Moves whenever any agent's conditions may have changed; null: it cannot tell (plan every time). */
  version?: () => string | null;
}

export interface AgentPage<V> { agents: V[]; total: number; counts: FleetCounts }

/**
 * The last plans made, each with what it was made of: the records array (the records cache hands out a
 * new one on any write to `agents`) and the conditions' version. A plan is a pass over every agent
 * (1,000 summaries, filtered, sorted, counted) for a page of 50; the dashboard and the API ask for
 * the same few queries again and again while the fleet stands still.
 */
export class PlanMemo {
  private readonly plans = new Map<string, { records: AgentRecord[]; version: string; plan: Listing<Planned> }>();
  constructor(private readonly max = 32) {}

  plan(records: AgentRecord[], version: string | null, q: AgentQuery, make: () => Listing<Planned>): Listing<Planned> {
    if (version === null) return make();
    const key = queryParams(q).toString();
    const hit = this.plans.get(key);
    if (hit && hit.records === records && hit.version === version) return hit.plan;
    const plan = make();
    if (this.plans.size >= this.max) this.plans.clear();
    this.plans.set(key, { records, version, plan });
    return plan;
  }
}

function summaries(d: Omit<ListAgentsDeps<unknown>, 'view'>, records: AgentRecord[]): Planned[] {
  return records.map((r) => ({
    name: r.name, state: r.state, suspended: r.suspended, createdAt: r.createdAt, updatedAt: r.updatedAt, conditions: d.conditions(r.name), record: r,
  }));
}

function plan(d: Omit<ListAgentsDeps<unknown>, 'view'>, q: AgentQuery): Listing<Planned> {
  const records = d.records();
  // The version is read before the conditions are: a change while planning leaves an older version on the plan.
  const version = d.memo && d.version ? d.version() : null;
  const make = () => planListing(summaries(d, records), q);
  return d.memo ? d.memo.plan(records, version, q, make) : make();
}

/**
 * One page of the fleet: plan over in-memory summaries (records and conditions), then build the
 * views of the page's agents alone. With 1,000 agents and a page of 50 this reads 50 agents' refs,
 * not 1,000.
 */
export async function listAgentsPage<V>(d: ListAgentsDeps<V>, q: AgentQuery): Promise<AgentPage<V>> {
  const p = plan(d, q);
  const agents = await Promise.all(p.page.map((s) => d.view(s.record)));
  return { agents, total: p.total, get counts() { return p.counts; } };
}

/** The names a query selects, every match (no paging): what a bulk action over "all matching the filter" acts on. */
export function selectAgentNames(d: Omit<ListAgentsDeps<unknown>, 'view'>, q: AgentQuery): string[] {
  return plan(d, { ...q, limit: null, offset: 0 }).page.map((s) => s.name);
}
