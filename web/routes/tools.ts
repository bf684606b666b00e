import Router from '@koa/router';
import type { Context } from 'koa';
import type { Identity } from '../../controller/auth/identity.ts';
import { HyperhiveError } from '../../controller/errors.ts';
import { MAX_WAIT_MS, type ToolGate } from '../../controller/tools/gate.ts';
import type { AuthOptions } from '../auth.ts';
import { readJson } from '../body.ts';
import { idParam, intQuery, intValue } from '../params.ts';

export interface ToolRoutesOptions { tools: ToolGate; auth: AuthOptions }

/** The agent itself (its harness) or an operator; another agent's token is refused. */
async function asAgent(ctx: Context, auth: AuthOptions): Promise<string> {
  const id = ctx.state.identity as Identity | undefined;
  const name = ctx.params.name!;
  if (!id) throw new HyperhiveError('unauthorized', 'authentication required: the harness sends `Authorization: Bearer <agent token>`');
  if (id.kind === 'agent' && id.name !== name) throw new HyperhiveError('forbidden', `agent ${id.name} may ask only about its own tool calls, not ${name}'s`);
  if (id.kind === 'operator' && ctx.state.via === 'cookie' && ctx.method !== 'GET') await auth.checkCsrf?.(ctx);
  return name;
}

/** A request's signal: aborted when its client goes away (a waiting poll stops). */
function closed(ctx: Context): AbortSignal {
  const ac = new AbortController();
  ctx.res.once('close', () => ac.abort());
  return ac.signal;
}

/**
 * The endpoint the harness asks about a tool call and waits on: `POST /api/agents/:name/tool-requests`
 * `{tool_name, input, tool_use_id, context, cwd, wait_ms}` answers at once by policy (`allow`/`deny`)
 * or with the queued request (`pending`, its id and timeoutAt), waiting up to wait_ms for a decision;
 * `GET …/tool-requests/:id?wait_ms=` waits again (each poll at most 60 s; the request waits its
 * whole timeout across polls).
 */
export function toolsRouter(o: ToolRoutesOptions): Router {
  const r = new Router();
  const waitOf = (v: unknown): number => (v === undefined || v === null || v === '' ? 0 : intValue(String(v), 'wait_ms', { min: 0, max: MAX_WAIT_MS }));

  r.post('/api/agents/:name/tool-requests', async (ctx) => {
    const agent = await asAgent(ctx, o.auth);
    const body = await readJson(ctx);
    const wait = waitOf(body.wait_ms);
    let answer = await o.tools.ask(agent, { toolName: body.tool_name, input: body.input, toolUseId: body.tool_use_id, context: body.context, cwd: body.cwd });
    if (answer.status === 'pending' && answer.id !== null && wait > 0) answer = await o.tools.wait(agent, answer.id, wait, closed(ctx));
    ctx.status = answer.status === 'pending' ? 202 : 200;
    ctx.body = answer;
  });

  r.get('/api/agents/:name/tool-requests/:id', async (ctx) => {
    const agent = await asAgent(ctx, o.auth);
    const id = idParam(ctx.params.id, 'tool request id');
    const answer = await o.tools.wait(agent, id, intQuery(ctx, 'wait_ms', { min: 0, max: MAX_WAIT_MS }) ?? 0, closed(ctx));
    ctx.status = answer.status === 'pending' ? 202 : 200;
    ctx.body = answer;
  });
  return r;
}
