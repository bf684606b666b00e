import Koa from 'koa';
import type { Controller } from '../controller/controller.ts';
import { authenticate, type AuthOptions } from './auth.ts';
import { errorMiddleware } from './errors.ts';
import { apiRouter } from './routes/api.ts';
import { HyperhiveError } from '../controller/errors.ts';

export interface AppDeps {
  controller: Controller;
  baseUrl: () => string;
  hookToken?: string;
  /** Mounted before the API (git over HTTP, MCP): a handler returns true when it answered. */
  rawHandlers?: ((req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => Promise<boolean>)[];
  auth?: Partial<AuthOptions>;
}

/** The koa app, built without listening: tests drive app.callback() or listen on port 0. */
export function createApp(deps: AppDeps): Koa {
  const app = new Koa();
  app.proxy = false;
  const auth: AuthOptions = { tokens: deps.controller.tokens, ...deps.auth };
  app.use(async (ctx, next) => {
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('Referrer-Policy', 'no-referrer');
    for (const h of deps.rawHandlers ?? []) {
      if (await h(ctx.req, ctx.res)) { ctx.respond = false; return; }
    }
    await next();
  });
  app.use(errorMiddleware);
  app.use(authenticate(auth));
  const api = apiRouter({ controller: deps.controller, auth, baseUrl: deps.baseUrl, hookToken: deps.hookToken });
  app.use(api.routes());
  app.use(api.allowedMethods());
  app.use(async (ctx, next) => {
    await next();
    if (ctx.status === 404 && ctx.body === undefined && ctx.path.startsWith('/api/')) {
      throw new HyperhiveError('not_found', `no route ${ctx.method} ${ctx.path}`);
    }
  });
  return app;
}
