import Router from '@koa/router';
import type { Controller } from '../../../controller/controller.ts';
import type { AgentView } from '../../../controller/controller.ts';
import { readJson } from '../../body.ts';
import { destroySection, keptBanner, type KeptRow } from '../../views/kept.ts';
import type { SafeHtml } from '../../views/html.ts';
import { who, type PageContext } from './context.ts';
import { formAction } from './form-action.ts';

/** A kept agent with its open revive request (the newest), for the dashboard and the agent page. */
export function keptRow(c: Controller, a: AgentView): KeptRow {
  return { agent: a, revive: c.listApprovals({ agent: a.name, kind: 'revive', status: ['pending'] }).at(-1) ?? null };
}

/** The dashboard's kept-state rows: every destroyed agent, whatever page or filter the fleet list shows. */
export const keptRows = async (c: Controller): Promise<KeptRow[]> => (await c.keptAgents()).map((a) => keptRow(c, a));

/** The agent page's lifecycle part: the kept banner with revive and purge, or the destroy form. */
export function lifecycleSection(c: Controller, a: AgentView, now: number, csrf: string | null): SafeHtml {
  return a.kept ? keptBanner(keptRow(c, a), now, csrf) : destroySection(a, csrf);
}

/** The lifecycle form posts: destroy (at once), revive (raises the request, shown next), purge (the name typed again). */
export function keptRouter(d: PageContext): Router {
  const c = d.controller;
  const r = new Router();
  const pageOf = (name: string): string => `/agents/${encodeURIComponent(name)}`;

  r.post('/agents/:name/destroy', ...d.guard, async (ctx) => {
    const name = ctx.params.name!;
    c.requireAgent(name);
    const form = await readJson(ctx);
    const reason = typeof form.reason === 'string' && form.reason.trim() ? form.reason.trim() : null;
    await formAction(ctx, { to: '/', refusedTo: pageOf(name) }, async () => {
      await c.destroy(name, who(ctx), { reason });
      return `agent ${name} destroyed: its repo and state are kept`;
    });
  });

  r.post('/agents/:name/revive', ...d.guard, async (ctx) => {
    const name = ctx.params.name!;
    c.requireAgent(name);
    let to = '/';
    await formAction(ctx, { to: '/', refusedPrefix: 'Revive refused: ' }, async () => {
      const a = await c.requestRevive(name, who(ctx));
      to = `/approvals/${a.id}`;
      return `revive request #${a.id} raised for ${name}: approve it to start it again`;
    });
    if (ctx.status === 303 && to !== '/') ctx.redirect(to);
  });

  r.post('/agents/:name/purge', ...d.guard, async (ctx) => {
    const name = ctx.params.name!;
    c.requireAgent(name);
    const form = await readJson(ctx);
    await formAction(ctx, { to: '/', refusedPrefix: 'Purge refused: ' }, async () => {
      const p = await c.purge(name, typeof form.confirm === 'string' ? form.confirm.trim() : '', who(ctx));
      return `agent ${name} purged: its repo and state are gone (final applied ${p.applied ? p.applied.slice(0, 7) : 'none'}); its log and audit trail stay`;
    });
  });

  return r;
}
