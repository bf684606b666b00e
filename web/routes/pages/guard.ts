import type { Context, Middleware, Next } from 'koa';
import type { Identity } from '../../../controller/auth/identity.ts';
import { HyperhiveError, isHyperhiveError } from '../../../controller/errors.ts';
import type { AuthOptions } from '../../auth.ts';
import { errorPage } from '../../views/error.ts';
import { sessionOf } from './context.ts';
import { bindFlash } from './flash.ts';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);
const wantsHtml = (ctx: Context): boolean => ctx.accepts('html', 'json') === 'html';

// Browsers get an HTML error page; scripts asking for JSON keep the API's error shape.
async function pageErrors(ctx: Context, next: Next): Promise<void> {
  try { await next(); } catch (e) {
    if (!isHyperhiveError(e) || !wantsHtml(ctx)) throw e;
    ctx.status = e.status;
    ctx.type = 'html';
    ctx.body = errorPage({ status: e.status, message: e.message, identity: ctx.state.identity?.name ?? null, csrf: sessionOf(ctx)?.csrf ?? null }).value;
  }
}

/**
 * The middleware in front of every operator page and form post: operators only (an anonymous browser
 * is sent to the login page), cookie writes need the CSRF token, and flash messages are bound to the
 * page the answer redirects to.
 */
export function pageGuard(auth: AuthOptions): Middleware[] {
  const operatorOnly = async (ctx: Context, next: Next): Promise<void> => {
    const id = ctx.state.identity as Identity | undefined;
    if (!id) {
      if (SAFE.has(ctx.method)) { ctx.redirect(`/login?next=${encodeURIComponent(ctx.originalUrl)}`); return; }
      throw new HyperhiveError('unauthorized', 'log in first');
    }
    if (id.kind !== 'operator') throw new HyperhiveError('forbidden', `agent ${id.name} may not use the operator UI`);
    if (ctx.state.via === 'cookie' && !SAFE.has(ctx.method)) await auth.checkCsrf?.(ctx);
    await next();
    bindFlash(ctx);
  };
  return [pageErrors, operatorOnly];
}
