import Router from '@koa/router';
import type { Context } from 'koa';
import type { Controller } from '../../controller/controller.ts';
import type { Identity } from '../../controller/auth/index.ts';
import { HyperhiveError } from '../../controller/errors.ts';
import { readJson } from '../body.ts';
import { idParam, intQuery } from '../params.ts';
import { requireOperator, type AuthOptions } from '../auth.ts';
import { parseAgentQuery } from '../../controller/agents/query.ts';
import { mountBulkApi } from './bulk.ts';

export interface ApiOptions {
  controller: Controller;
  auth: AuthOptions;
  /** Public base URL (for links in hook output). */
  baseUrl: () => string;
  /** In-memory secret the git hooks present to /api/internal/pushed. */
  hookToken?: string;
}

const who = (ctx: Context): Identity => ctx.state.identity as Identity;
const str = (v: unknown, field: string): string => {
  if (typeof v !== 'string' || !v.trim()) throw new HyperhiveError('bad_request', `field "${field}" is required and must be a non-empty string`);
  return v;
};
const requestId = (ctx: Context): number => idParam(ctx.params.id, 'request id');
/** The most entries one GET /api/log returns (the log store's own cap). */
const LOG_LIMIT = 5000;
const STATUSES = ['pending', 'approved', 'rejected', 'superseded', 'diverged', 'expired', 'failed'];

/** The Contract's JSON API for operators. Agents' routes (turns, MCP, git) are mounted by their modules. */
export function apiRouter(o: ApiOptions): Router {
  const c = o.controller;
  const r = new Router({ prefix: '/api' });
  const op = requireOperator(o.auth);

  r.get('/health', (ctx) => {
    // 200 only once the controller accepts work (started: tokens loaded, loop running).
    if (!c.started) { ctx.status = 503; ctx.body = { ok: false, starting: true }; return; }
    ctx.body = { ok: true, runtime: c.runtimeKind };
  });

  r.post('/internal/pushed', async (ctx) => {
    const token = (ctx.get('authorization').match(/^Bearer\s+(.+)$/i) ?? [])[1];
    if (!o.hookToken || !token || !safeEqual(token, o.hookToken)) throw new HyperhiveError('unauthorized', 'hook token required');
    const body = await readJson(ctx);
    const updates = Array.isArray(body.updates)
      ? body.updates.filter((u): u is { ref: string; new: string } => !!u && typeof (u as { ref?: unknown }).ref === 'string' && typeof (u as { new?: unknown }).new === 'string')
      : undefined;
    const lines = await c.afterPush(str(body.agent, 'agent'), o.baseUrl(), updates);
    // The sh post-receive (curl) asks for plain text: one line per message, control characters gone.
    if (ctx.get('accept') === 'text/plain') { ctx.type = 'text/plain; charset=utf-8'; ctx.body = lines.map((l) => `${l.replace(/[\u0000-\u001f\u007f]/g, '')}\n`).join(''); return; }
    ctx.body = { lines };
  });

  r.get('/runtime', op, (ctx) => { ctx.body = c.runtimeHealth(); });
  r.get('/agents', op, async (ctx) => {
    // Unpaged unless ?limit= is given: scripts and the CLI have always read the whole array.
    const page = await c.listAgentsJson(parseAgentQuery(ctx.query));
    ctx.set('X-Total-Count', String(page.total));
    ctx.type = 'application/json; charset=utf-8';
    ctx.body = page.json;
  });
  r.post('/agents', op, async (ctx) => {
    const body = await readJson(ctx);
    ctx.status = 201;
    ctx.body = await c.createAgent(body.name as string, who(ctx));
  });
  mountBulkApi(r, c, op);
  r.get('/agents/:name', op, async (ctx) => { ctx.body = await c.getAgent(ctx.params.name!); });
  r.post('/agents/:name/suspend', op, async (ctx) => { ctx.body = await c.setSuspended(ctx.params.name!, true, who(ctx)); });
  r.post('/agents/:name/resume', op, async (ctx) => { ctx.body = await c.setSuspended(ctx.params.name!, false, who(ctx)); });
  r.post('/agents/:name/model', op, async (ctx) => {
    const body = await readJson(ctx);
    ctx.body = await c.setModel(ctx.params.name!, body.model as string, who(ctx));
  });
  r.post('/agents/:name/revert', op, async (ctx) => { ctx.body = await c.revert(ctx.params.name!, who(ctx)); });
  r.post('/agents/:name/rollback', op, async (ctx) => {
    const body = await readJson(ctx);
    ctx.body = await c.rollback(ctx.params.name!, str(body.revision, 'revision'), who(ctx));
  });
  r.post('/agents/:name/repair', op, async (ctx) => { ctx.body = await c.repair(ctx.params.name!, who(ctx)); });

  r.get('/approvals', op, (ctx) => {
    const status = typeof ctx.query.status === 'string' ? ctx.query.status.split(',').filter(Boolean) : undefined;
    for (const s of status ?? []) if (!STATUSES.includes(s)) throw new HyperhiveError('bad_request', `unknown status ${JSON.stringify(s)} (one of ${STATUSES.join(', ')})`);
    const agent = typeof ctx.query.agent === 'string' ? ctx.query.agent : undefined;
    if (agent) c.requireAgent(agent);
    ctx.body = c.listApprovals({ status, agent, kind: typeof ctx.query.kind === 'string' ? ctx.query.kind : undefined }).map((a) => c.approvalView(a));
  });
  r.get('/approvals/:id', op, async (ctx) => {
    const id = requestId(ctx);
    const a = c.getApproval(id);
    ctx.body = { ...c.approvalView(a), patch: await c.approvalPatch(id), commits: await c.approvalCommits(id) };
  });
  r.get('/approvals/:id/patch', op, async (ctx) => { ctx.type = 'text/x-diff; charset=utf-8'; ctx.body = await c.approvalPatch(requestId(ctx)); });
  r.post('/approvals/:id/approve', op, async (ctx) => {
    const body = await readJson(ctx);
    const note = typeof body.note === 'string' ? body.note : undefined;
    if (body.always !== undefined && typeof body.always !== 'boolean') throw new HyperhiveError('bad_request', 'field "always" must be true or false', { field: 'always' });
    // A tool request: allow once, or with "always" also propose the pattern (raised as a change request).
    const a = await c.allowTool(requestId(ctx), who(ctx), { always: body.always === true, pattern: body.pattern, note });
    ctx.body = { ...c.approvalView(a), ...(a.always ? { always: a.always } : {}) };
  });
  r.post('/approvals/:id/reject', op, async (ctx) => {
    const body = await readJson(ctx);
    ctx.body = c.approvalView(await c.reject(requestId(ctx), who(ctx), typeof body.reason === 'string' && body.reason.trim() ? body.reason : 'rejected without a reason'));
  });

  r.get('/log', op, (ctx) => {
    const since = intQuery(ctx, 'since', { unit: 'ms since the epoch' });
    const afterId = intQuery(ctx, 'after', { unit: 'a log entry id' });
    const limit = intQuery(ctx, 'limit', { min: 1, max: LOG_LIMIT });
    const agent = typeof ctx.query.agent === 'string' && ctx.query.agent ? ctx.query.agent : undefined;
    ctx.body = c.logEntries({ agent, since, afterId, limit });
  });
  r.get('/audit', op, (ctx) => {
    ctx.body = c.auditTrail({ agent: typeof ctx.query.agent === 'string' ? ctx.query.agent : undefined });
  });
  return r;
}

import crypto from 'node:crypto';
function safeEqual(a: string, b: string): boolean {
  const x = crypto.createHash('sha256').update(a).digest();
  const y = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(x, y);
}
