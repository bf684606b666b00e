import Router from '@koa/router';
import type { AgentView } from '../../../controller/controller.ts';
import { readJson } from '../../body.ts';
import { dashboardPage, type DashboardAgent, type PendingRow } from '../../views/dashboard.ts';
import { html, inboxDepth, OPERATOR, sessionOf, who, type PageContext } from './context.ts';
import { takeFlash } from './flash.ts';
import { formAction } from './form-action.ts';
import { keptRows } from './kept.ts';

/** `/`: the fleet, the approval queue, drafts and pending agents, the latest log; and its create-agent form. */
export function dashboardRouter(d: PageContext): Router {
  const c = d.controller;
  const rev = d.revisions;
  const r = new Router();

  r.get('/', ...d.guard, async (ctx) => {
    const all = await c.listAgents({ all: true });
    const shown = all.filter((a) => a.state !== 'kept');
    const agents: DashboardAgent[] = await Promise.all(shown.map(async (a: AgentView) => ({
      agent: a,
      applied: await rev.revisionInfo(a.name, a.applied),
      proposed: a.proposed && a.proposed !== a.applied ? await rev.revisionInfo(a.name, a.proposed) : null,
      inboxDepth: inboxDepth(d, a.name),
    })));
    const queue = await Promise.all(c.listApprovals({ status: ['pending', 'diverged'] }).map((a) => rev.approvalRow(a)));
    const drafts = await Promise.all(all.filter((a) => a.state === 'draft').map(async (a) => ({ agent: a, proposed: await rev.revisionInfo(a.name, a.proposed) })));
    // A pending agent waits for its newest open spawn request (null once that was decided); a kept agent's revive request shows in the kept section.
    const pending: PendingRow[] = all.filter((a) => a.state === 'pending').map((a) => ({
      agent: a, request: c.listApprovals({ agent: a.name, status: ['pending'] }).filter((x) => x.kind === 'spawn' || x.kind === 'revive').at(-1) ?? null,
    }));
    html(ctx, dashboardPage({
      now: d.now(), csrf: sessionOf(ctx)?.csrf ?? null, identity: who(ctx).name, flash: takeFlash(ctx),
      agents, queue, drafts, pending, kept: await keptRows(c), operatorUnread: inboxDepth(d, OPERATOR), log: c.logEntries({ limit: 25 }), runtime: c.runtimeHealth(),
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
