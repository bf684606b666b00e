import Router from '@koa/router';
import type { AgentView } from '../../../controller/controller.ts';
import { readJson } from '../../body.ts';
import { dashboardPage, type DashboardAgent, type PendingRow } from '../../views/dashboard.ts';
import { html, inboxDepths, OPERATOR, sessionOf, who, type PageContext } from './context.ts';
import { takeFlash } from './flash.ts';
import { formAction } from './form-action.ts';
import { keptRows } from './kept.ts';
import { parseQueueQuery, orderQueue } from './queue-query.ts';
import { DEFAULT_PAGE, parseAgentQuery } from '../../../controller/agents/query.ts';
import type { AgentRecord } from '../../../controller/agents/store.ts';
import type { ApprovalKind } from '../../../controller/approvals/store.ts';

/** `/`: the fleet, the approval queue, drafts and pending agents, the latest log; and its create-agent form. */
export function dashboardRouter(d: PageContext): Router {
  const c = d.controller;
  const rev = d.revisions;
  const r = new Router();

  r.get('/', ...d.guard, async (ctx) => {
    // Pages of 50: the views (refs, model, runtime) and revision lookups are built for the page only.
    const query = parseAgentQuery(ctx.query, { limit: DEFAULT_PAGE });
    const queueQuery = parseQueueQuery(ctx.query);
    const listing = await c.listAgentsPage(query);
    const depthOf = inboxDepths(d);
    const agents: DashboardAgent[] = await Promise.all(listing.agents.map(async (a: AgentView) => ({
      agent: a,
      applied: await rev.revisionInfo(a.name, a.applied),
      proposed: a.proposed && a.proposed !== a.applied ? await rev.revisionInfo(a.name, a.proposed) : null,
      inboxDepth: depthOf(a.name),
    })));
    const open = c.listApprovals({ status: ['pending', 'diverged'] });
    const queueKinds: Partial<Record<ApprovalKind, number>> = {};
    for (const a of open) queueKinds[a.kind] = (queueKinds[a.kind] ?? 0) + 1;
    const queue = await Promise.all(orderQueue(open, queueQuery).map((a) => rev.approvalRow(a)));
    const records = c.agentRecords({ all: true });
    const viewsOf = (state: AgentRecord['state']) => Promise.all(records.filter((a) => a.state === state).map((a) => c.view(a)));
    const drafts = await Promise.all((await viewsOf('draft')).map(async (a) => ({ agent: a, proposed: await rev.revisionInfo(a.name, a.proposed) })));
    // A pending agent waits for its newest open spawn request (null once that was decided); a kept agent's revive request shows in the kept section.
    const pending: PendingRow[] = (await viewsOf('pending')).map((a) => ({
      agent: a, request: c.listApprovals({ agent: a.name, status: ['pending'] }).filter((x) => x.kind === 'spawn' || x.kind === 'revive').at(-1) ?? null,
    }));
    html(ctx, dashboardPage({
      now: d.now(), csrf: sessionOf(ctx)?.csrf ?? null, identity: who(ctx).name, flash: takeFlash(ctx),
      agents, queue, drafts, pending, kept: await keptRows(c), operatorUnread: depthOf(OPERATOR), log: c.logEntries({ limit: 25 }), runtime: c.runtimeHealth(),
      listing: { query, total: listing.total, counts: listing.counts }, queueQuery, queueKinds,
    }));
  });

  r.post('/agents', ...d.guard, async (ctx) => {
    const form = await readJson(ctx);
    const name = typeof form.name === 'string' ? form.name.trim() : '';
    await formAction(ctx, { to: `/agents/${encodeURIComponent(name)}`, refusedTo: '/' }, async () => {
      await c.createAgent(name, who(ctx));
      return `agent ${name} created`;
    });
  });

  return r;
}
