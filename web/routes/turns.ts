import Router from '@koa/router';
import type Koa from 'koa';
import type { Transcripts } from '../../controller/transcripts/index.ts';
import { requireOperator, requireSelfOrOperator, type AuthOptions } from '../auth.ts';
import { readJson } from '../body.ts';
import { idParam, intQuery } from '../params.ts';

export interface TurnsRoutesOptions { transcripts: Transcripts; auth: AuthOptions }

/**
 * Turn transcripts: the harness streams the turn in progress (`POST /api/agents/<own>/turns/events`,
 * that agent's token), operators read them (`GET /api/agents/:name/turns[?limit=&since=&until=]`,
 * `GET /api/agents/:name/turns/:id[?after=]`).
 */
export function turnsRouter(o: TurnsRoutesOptions): Router {
  const t = o.transcripts;
  const r = new Router({ prefix: '/api/agents/:name/turns' });
  const op = requireOperator(o.auth);

  r.post('/events', requireSelfOrOperator(o.auth, 'turn events'), async (ctx) => {
    const body = await readJson(ctx);
    ctx.status = 201;
    ctx.body = t.record(ctx.params.name!, body);
  });

  r.get('/', op, (ctx) => {
    ctx.body = t.list(ctx.params.name!, {
      limit: intQuery(ctx, 'limit', { min: 1, max: 1000 }),
      since: intQuery(ctx, 'since', { unit: 'ms since the epoch' }),
      until: intQuery(ctx, 'until', { unit: 'ms since the epoch' }),
    });
  });

  r.get('/:id', op, (ctx) => {
    ctx.body = t.get(ctx.params.name!, idParam(ctx.params.id, 'turn id'), { after: intQuery(ctx, 'after', { unit: 'an event seq' }) });
  });
  return r;
}

/** The router as web/app.ts's `apiRoutes` entries take it. */
export function turnsRoutes(o: TurnsRoutesOptions): { routes(): Koa.Middleware } {
  const r = turnsRouter(o);
  return { routes: () => r.routes() as unknown as Koa.Middleware };
}
