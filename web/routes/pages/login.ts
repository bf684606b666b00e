import Router from '@koa/router';
import type { Identity } from '../../../controller/auth/identity.ts';
import { readJson } from '../../body.ts';
import { login, logout, safeNext } from '../../session.ts';
import { loginPage } from '../../views/login.ts';
import { html, type PageContext } from './context.ts';

/** `/login` (the form and its post, open to anyone) and `/logout`. */
export function loginRouter(d: PageContext): Router {
  const r = new Router();

  r.get('/login', (ctx) => {
    const next = safeNext(ctx.query.next);
    if ((ctx.state.identity as Identity | undefined)?.kind === 'operator') { ctx.redirect(next); return; }
    html(ctx, loginPage({ next, tokenFile: d.tokenFile }));
  });

  r.post('/login', async (ctx) => {
    const form = await readJson(ctx);
    const res = login(ctx, form, d.auth.tokens, d.sessions);
    if (!res.ok) { html(ctx, loginPage({ error: res.message, next: safeNext(form.next), tokenFile: d.tokenFile }), res.status); return; }
    ctx.status = 303;
    ctx.redirect(res.next);
  });

  r.post('/logout', ...d.guard, (ctx) => {
    logout(ctx, d.sessions);
    ctx.status = 303;
    ctx.redirect('/login');
  });

  return r;
}
