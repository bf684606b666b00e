import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { Identity } from '../../controller/auth/index.ts';
import type { Controller } from '../../controller/controller.ts';
import { parseBulk } from '../../controller/ops/bulk.ts';
import { readJson } from '../body.ts';

const who = (ctx: Context): Identity => ctx.state.identity as Identity;

/**
 * `POST /api/agents/bulk {"action": "suspend"|"resume"|"reject-requests", "names": [...] | "filter": {...}, "reason"?}`:
 * 200 with every agent's result (done, unchanged, failed with the error), also when some failed.
 */
export function mountBulkApi(r: Router, c: Controller, op: Middleware): void {
  r.post('/agents/bulk', op, async (ctx) => {
    const plan = parseBulk(await readJson(ctx));
    ctx.body = await c.bulk(plan, who(ctx));
  });
}
