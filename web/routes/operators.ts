import Router from '@koa/router';
import type { Context } from 'koa';
import type { Identity } from '../../controller/auth/identity.ts';
import type { PolicyFile } from '../../controller/approvals/policy-file.ts';
import type { OperatorService } from '../../controller/operators/service.ts';
import { HyperhiveError, isHyperhiveError } from '../../controller/errors.ts';
import { requireOperator, type AuthOptions } from '../auth.ts';
import { readJson } from '../body.ts';
import type { SessionStore } from '../session.ts';
import { operatorsPage, type OperatorRow } from '../views/operators.ts';
import { html, sessionOf } from './pages/context.ts';
import { takeFlash } from './pages/flash.ts';
import { formAction } from './pages/form-action.ts';
import { pageGuard } from './pages/guard.ts';

export interface OperatorRoutesOptions {
  operators: OperatorService;
  policy: PolicyFile;
  sessions: SessionStore;
  auth: AuthOptions;
  now?: () => number;
}

const who = (ctx: Context): Identity => ctx.state.identity as Identity;

/**
 * Named operators (`/api/operators`, the `/operators` page with who is logged in) and the quorum
 * rules in force (`GET /api/policy`, shown on the same page).
 */
export function operatorsRouter(o: OperatorRoutesOptions): Router {
  const r = new Router();
  const op = requireOperator(o.auth);
  const guard = pageGuard(o.auth);
  const now = o.now ?? Date.now;

  const rows = (): OperatorRow[] => {
    const sessions = o.sessions.list();
    return o.operators.list().map((x) => {
      const mine = sessions.filter((s) => s.identity.kind === 'operator' && s.identity.name === x.name);
      return { ...x, sessions: mine.length, lastSeen: mine.length ? Math.max(...mine.map((s) => s.lastSeen)) : null };
    });
  };

  r.get('/api/operators', op, (ctx) => { ctx.body = rows(); });
  r.post('/api/operators', op, async (ctx) => {
    const body = await readJson(ctx);
    ctx.status = 201;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = o.operators.add(body.name, who(ctx));
  });
  r.delete('/api/operators/:name', op, (ctx) => { ctx.body = o.operators.revoke(ctx.params.name!, who(ctx)); });
  r.get('/api/policy', op, (ctx) => { ctx.body = o.policy.status; });

  const page = (ctx: Context, added: { name: string; token: string } | null = null) => html(ctx, operatorsPage({
    now: now(), csrf: sessionOf(ctx)?.csrf ?? null, identity: who(ctx).name, flash: takeFlash(ctx), operators: rows(), policy: o.policy.status, added,
  }));
  r.get('/operators', ...guard, (ctx) => page(ctx));
  // The new token is answered on this page (no redirect, not stored in a flash): shown once, to whoever asked.
  r.post('/operators', ...guard, async (ctx) => {
    const form = await readJson(ctx);
    const name = typeof form.name === 'string' ? form.name.trim() : '';
    let added: { name: string; token: string };
    try { added = o.operators.add(name, who(ctx)); } catch (e) {
      if (!isHyperhiveError(e)) throw e;
      await formAction(ctx, { to: '/operators' }, () => { throw e; });
      return;
    }
    page(ctx, added);
  });
  r.post('/operators/:name/revoke', ...guard, async (ctx) => {
    const name = ctx.params.name!;
    // An unknown name is the page's 404 (like an unknown agent), not a refusal flashed on the list.
    if (!o.operators.isOperator(name)) throw new HyperhiveError('not_found', `no operator named ${JSON.stringify(name.slice(0, 40))}`);
    await formAction(ctx, { to: '/operators' }, () => { o.operators.revoke(name, who(ctx)); return `operator ${name} revoked: its token and sessions ended`; });
  });
  return r;
}
