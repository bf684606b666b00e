import Router from '@koa/router';
import type Koa from 'koa';
import type { Context, Next } from 'koa';
import type { Identity } from '../../controller/auth/index.ts';
import { HyperhiveError } from '../../controller/errors.ts';
import { can } from '../../controller/lifecycle.ts';
import { parseStatsParams } from '../../controller/stats/params.ts';
import type { StatsService } from '../../controller/stats/service.ts';
import type { Series } from '../../controller/stats/store.ts';
import { requireOperator, requireSelfOrOperator, type AuthOptions } from '../auth.ts';
import { readJson } from '../body.ts';
import { fleetPage } from '../views/fleet.ts';

export interface StatsRoutesOptions {
  stats: StatsService;
  auth: AuthOptions;
  now?: () => number;
}

const MAX_SERIES = 200;

/**
 * Turn reports (`POST /api/agents/:name/turns`: that agent's own token, or an operator), series
 * (`GET /api/stats`), Prometheus metrics (`GET /metrics`, operator token like the rest of the API),
 * and the fleet page (`/fleet`).
 */
export function statsRouter(o: StatsRoutesOptions): Router {
  const s = o.stats;
  const now = o.now ?? Date.now;
  const r = new Router();
  const op = requireOperator(o.auth);

  r.post('/api/agents/:name/turns', requireSelfOrOperator(o.auth, 'turns'), async (ctx) => {
    const body = await readJson(ctx);
    ctx.status = 201;
    ctx.body = await s.reportTurn(ctx.params.name!, body);
  });

  r.get('/api/stats', op, (ctx) => {
    const p = parseStatsParams(ctx.query as Record<string, unknown>, now());
    if (p.agent !== '*') s.store.flush();
    if (p.key !== null) {
      const series = s.store.query({ agent: p.agent, key: p.key, since: p.since, until: p.until, step: p.step, agg: p.agg ?? undefined });
      ctx.body = series;
      return;
    }
    const keys = s.store.keys(p.agent, p.since, p.until).slice(0, MAX_SERIES);
    const series: Omit<Series, 'agent' | 'since' | 'until' | 'step'>[] = keys.map((key) => {
      const { agent: _a, since: _s, until: _u, step: _st, ...rest } = s.store.query({ agent: p.agent, key, since: p.since, until: p.until, step: p.step, agg: p.agg ?? undefined });
      return rest;
    });
    ctx.body = { agent: p.agent, since: p.since, until: p.until, step: p.step, series };
  });

  r.get('/metrics', op, async (ctx) => {
    const m = await s.metrics.text();
    ctx.type = m.contentType;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = m.body;
  });

  r.get('/fleet', page, async (ctx) => {
    const t = now();
    const agents = (await s.controller.listAgents()).filter((a) => can(a.state, 'receive-messages'));
    const sum = (agent: string, key: string) => s.store.query({ agent, key, since: t - 3_600_000, until: t + 1, step: 3_600_001, agg: 'sum' }).points.reduce((x, p) => x + p[1], 0);
    const bus = s.busNow();
    const rows = agents.map((a) => ({
      agent: a, lastTurnAt: s.store.last(a.name, 'turns')?.ts ?? null,
      turnsLastHour: sum(a.name, 'turns'), costLastHour: sum(a.name, 'cost_usd'),
      inboxDepth: bus ? (() => { try { return bus.depth(a.name); } catch { return null; } })() : null,
    }));
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = fleetPage({ now: t, csrf: (ctx.state.session as { csrf?: string } | undefined)?.csrf ?? null, identity: (ctx.state.identity as Identity).name, rows }).value;
  });

  return r;
}

/** The router as web/app.ts's `apiRoutes` entries take it (plain koa middleware). */
export function statsRoutes(o: StatsRoutesOptions): { routes(): Koa.Middleware } {
  const r = statsRouter(o);
  return { routes: () => r.routes() as unknown as Koa.Middleware };
}

/** Operators only; an anonymous browser goes to the login page first. */
async function page(ctx: Context, next: Next): Promise<void> {
  const id = ctx.state.identity as Identity | undefined;
  if (!id) { ctx.redirect(`/login?next=${encodeURIComponent(ctx.originalUrl)}`); return; }
  if (id.kind !== 'operator') throw new HyperhiveError('forbidden', `agent ${id.name} may not use the operator UI`);
  await next();
}
