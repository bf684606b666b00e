import Router from '@koa/router';
import { requireOperator } from '../../auth.ts';
import { readJson } from '../../body.ts';
import { parseSlash, runSlash } from '../slash.ts';
import { who, type PageContext } from './context.ts';

/** The API the pages' script uses beyond the Contract's: live events (SSE) and slash commands. */
export function liveRouter(d: PageContext): Router {
  const c = d.controller;
  const r = new Router();
  const op = requireOperator(d.auth);

  r.get('/api/events', op, d.events.handler());
  r.post('/api/agents/:name/command', op, async (ctx) => {
    const name = ctx.params.name!;
    c.requireAgent(name);
    const body = await readJson(ctx);
    ctx.body = await runSlash(c, name, parseSlash(body.command), who(ctx));
  });

  return r;
}
