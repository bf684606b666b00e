import Router from '@koa/router';
import type { Context } from 'koa';
import type { Identity } from '../../controller/auth/index.ts';
import type { Controller } from '../../controller/controller.ts';
import { HyperhiveError } from '../../controller/errors.ts';
import { requireOperator, type AuthOptions } from '../auth.ts';
import { readJson } from '../body.ts';

export interface LifecycleRoutesOptions { controller: Controller; auth: AuthOptions }

const who = (ctx: Context): Identity => ctx.state.identity as Identity;

/** The one answer to every way of asking for a new name. */
export function renameRefusal(name: string): HyperhiveError {
  return new HyperhiveError('bad_request', `renaming is not supported: an agent's name is its repo, its token's identity and how the audit trail names it. To carry ${name} on under another name, create the new agent and push ${name}'s branches to it (destroy ${name} when done)`, { field: 'name' });
}

/**
 * The lifecycle routes (operators): destroy at once, raise a revive request, purge with `?confirm=<name>`.
 * A PATCH (or `…/rename`) asking for another name is refused, saying renaming is not supported.
 */
export function lifecycleRouter(o: LifecycleRoutesOptions): Router {
  const c = o.controller;
  const r = new Router({ prefix: '/api/agents' });
  const op = requireOperator(o.auth);

  r.post('/:name/destroy', op, async (ctx) => {
    const body = await readJson(ctx);
    if (body.reason !== undefined && (typeof body.reason !== 'string' || body.reason.length > 2000)) throw new HyperhiveError('bad_request', 'field "reason" must be text of at most 2000 characters', { field: 'reason' });
    await c.destroy(ctx.params.name!, who(ctx), { reason: (body.reason as string | undefined) ?? null });
    ctx.body = await c.getAgent(ctx.params.name!);
  });
  r.post('/:name/revive', op, async (ctx) => {
    const a = await c.requestRevive(ctx.params.name!, who(ctx));
    ctx.status = 201;
    ctx.body = c.approvalView(a);
  });
  r.delete('/:name', op, async (ctx) => {
    const confirm = Array.isArray(ctx.query.confirm) ? ctx.query.confirm.join(',') : ctx.query.confirm;
    ctx.body = await c.purge(ctx.params.name!, confirm, who(ctx));
  });
  const rename = async (ctx: Context): Promise<void> => {
    const name = ctx.params.name!;
    c.requireAgent(name);
    const body = await readJson(ctx);
    if ((typeof body.name === 'string' && body.name !== name) || ctx.path.endsWith('/rename')) throw renameRefusal(name);
    throw new HyperhiveError('bad_request', `nothing to change: an agent has no fields to PATCH (use …/suspend, …/resume, …/model; renaming is not supported)`);
  };
  r.patch('/:name', op, rename);
  r.post('/:name/rename', op, rename);
  return r;
}
