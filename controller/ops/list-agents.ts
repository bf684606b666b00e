import type { AgentRecord } from '../agents/store.ts';
import { planListing, type AgentQuery, type AgentSummary, type FleetCounts } from '../agents/query.ts';
import type { Condition } from '../reconciler/types.ts';

export interface ListAgentsDeps<V> {
  /** Every agent's record (kept included): one sqlite read. */
  records: () => AgentRecord[];
  /** The agent's conditions as every view shows them (the reconciler's, merged with the other sources); in memory. */
  conditions: (name: string) => Condition[];
  /** The full view (refs, model, runtime): the expensive part, built for the page only. */
  view: (a: AgentRecord) => Promise<V>;
}

export interface AgentPage<V> { agents: V[]; total: number; counts: FleetCounts }

/**
 * One page of the fleet: plan over in-memory summaries (records and conditions), then build the
 * views of the page's agents alone. With 1,000 agents and a page of 50 this reads 50 agents' refs,
 * not 1,000.
 */
export async function listAgentsPage<V>(d: ListAgentsDeps<V>, q: AgentQuery): Promise<AgentPage<V>> {
  const records = d.records();
  const summaries: (AgentSummary & { record: AgentRecord })[] = records.map((r) => ({
    name: r.name, state: r.state, suspended: r.suspended, createdAt: r.createdAt, updatedAt: r.updatedAt, conditions: d.conditions(r.name), record: r,
  }));
  const plan = planListing(summaries, q);
  const agents = await Promise.all(plan.page.map((s) => d.view(s.record)));
  return { agents, total: plan.total, get counts() { return plan.counts; } };
}

/** The names a query selects, every match (no paging): what a bulk action over "all matching the filter" acts on. */
export function selectAgentNames(d: Omit<ListAgentsDeps<unknown>, 'view'>, q: AgentQuery): string[] {
  const summaries = d.records().map((r) => ({ name: r.name, state: r.state, suspended: r.suspended, createdAt: r.createdAt, updatedAt: r.updatedAt, conditions: d.conditions(r.name) }));
  return planListing(summaries, { ...q, limit: null, offset: 0 }).page.map((s) => s.name);
}
