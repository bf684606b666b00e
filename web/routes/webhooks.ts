import Router from '@koa/router';
import type { Context } from 'koa';
import type { Identity } from '../../controller/auth/identity.ts';
import type { WebhookService } from '../../controller/webhooks/service.ts';
import { requireOperator, type AuthOptions } from '../auth.ts';
import { readForm, readJson } from '../body.ts';
import { idParam, intQuery } from '../params.ts';
import { webhooksPage } from '../views/webhooks.ts';
import { html, sessionOf } from './pages/context.ts';
import { takeFlash } from './pages/flash.ts';
import { formAction } from './pages/form-action.ts';
import { pageGuard } from './pages/guard.ts';

export interface WebhookRoutesOptions { webhooks: WebhookService; auth: AuthOptions; now?: () => number }

const who = (ctx: Context): Identity => ctx.state.identity as Identity;
const hookId = (ctx: Context): number => idParam(ctx.params.id, 'webhook id');

/** The webhooks API (`/api/webhooks…`) and the `/webhooks` page: add, delete, send a test, the delivery log. */
export function webhooksRouter(o: WebhookRoutesOptions): Router {
  const r = new Router();
  const w = o.webhooks;
  const op = requireOperator(o.auth);
  const guard = pageGuard(o.auth);
  const now = o.now ?? Date.now;

  r.get('/api/webhooks', op, (ctx) => { ctx.body = w.list(); });
  r.post('/api/webhooks', op, async (ctx) => {
    const body = await readJson(ctx);
    ctx.status = 201;
    const h = w.create(body, who(ctx));
    ctx.body = { id: h.id, url: h.url, events: h.events, createdAt: h.createdAt, createdBy: h.createdBy };
  });
  r.get('/api/webhooks/:id', op, (ctx) => { ctx.body = w.get(hookId(ctx)); });
  r.delete('/api/webhooks/:id', op, (ctx) => { ctx.body = w.delete(hookId(ctx), who(ctx)); });
  r.post('/api/webhooks/:id/test', op, async (ctx) => { ctx.body = await w.test(hookId(ctx), who(ctx)); });
  r.get('/api/webhooks/:id/deliveries', op, (ctx) => { ctx.body = w.deliveries(hookId(ctx), intQuery(ctx, 'limit', { min: 1, max: 500 })); });

  r.get('/webhooks', ...guard, (ctx) => html(ctx, webhooksPage({
    now: now(), csrf: sessionOf(ctx)?.csrf ?? null, identity: who(ctx).name, flash: takeFlash(ctx),
    hooks: w.list().map((hook) => ({ hook, deliveries: w.deliveries(hook.id, 20) })),
  })));
  r.post('/webhooks', ...guard, async (ctx) => {
    // The form repeats `event` once per ticked box.
    const form = await readForm(ctx);
    await formAction(ctx, { to: '/webhooks' }, () => {
      const h = w.create({ url: form.get('url') ?? '', secret: form.get('secret') ?? '', events: form.getAll('event') }, who(ctx));
      return `webhook #${h.id} added`;
    });
  });
  r.post('/webhooks/:id/test', ...guard, async (ctx) => {
    const id = w.get(hookId(ctx)).id;
    await formAction(ctx, { to: '/webhooks' }, async () => {
      const d = await w.test(id, who(ctx));
      return d.status === 'delivered' ? `test delivered to webhook #${id} (HTTP ${d.lastStatus})` : `test to webhook #${id} failed: ${d.lastError}${d.status === 'pending' ? '; it is retried' : ''}`;
    });
  });
  r.post('/webhooks/:id/delete', ...guard, async (ctx) => {
    const id = w.get(hookId(ctx)).id;
    await formAction(ctx, { to: '/webhooks' }, () => { w.delete(id, who(ctx)); return `webhook #${id} deleted`; });
  });
  return r;
}
