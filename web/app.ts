import Koa from 'koa';
import type { Controller } from '../controller/controller.ts';
import { authenticate, type AuthOptions } from './auth.ts';
import { errorMiddleware } from './errors.ts';
import { apiRouter } from './routes/api.ts';
import { HyperhiveError } from '../controller/errors.ts';
import { pagesRouter, type PagesBus } from './routes/pages.ts';
import { assertCsrf, sessionFromCookie, SessionStore, type Session } from './session.ts';
import { Broadcaster } from './sse.ts';
import { securityHeaders, staticAssets } from './static.ts';
import { DiffRenderer } from './views/diff.ts';

export interface AppDeps {
  controller: Controller;
  baseUrl: () => string;
  hookToken?: string;
  /** Mounted before the API (git over HTTP, MCP): a handler returns true when it answered. */
  rawHandlers?: ((req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => Promise<boolean>)[];
  auth?: Partial<AuthOptions>;
  /** Web UI parts; created here when not given (tests pass their own to reach into them). */
  sessions?: SessionStore;
  events?: Broadcaster;
  diffs?: DiffRenderer;
  bus?: PagesBus | null;
  /** Further API routers (the bus's operator routes, …), mounted before the core API with the same auth. */
  apiRoutes?: ((auth: AuthOptions) => { routes(): Koa.Middleware<any, any> })[];
}

/** The koa app, built without listening: tests drive app.callback() or listen on port 0. */
export function createApp(deps: AppDeps): Koa {
  const app = new Koa();
  app.proxy = false;
  const sessions = deps.sessions ?? new SessionStore();
  const events = deps.events ?? new Broadcaster();
  wireEvents(deps.controller, events);
  // Message bodies stay out of the stream: the pages re-fetch what they show.
  deps.bus?.onMessage?.((m) => events.publish('message', { id: m.id, from: m.from, to: m.to }));
  const auth: AuthOptions = {
    tokens: deps.controller.tokens,
    // The UI's cookie session; bearer tokens keep working without it (and without CSRF).
    session: (ctx) => {
      const s = sessionFromCookie(ctx, sessions);
      if (s) ctx.state.session = s;
      return s?.identity ?? null;
    },
    checkCsrf: (ctx) => assertCsrf(ctx, ctx.state.session as Session),
    ...deps.auth,
  };
  app.use(securityHeaders());
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
  app.use(staticAssets());
  app.use(authenticate(auth));
  const pages = pagesRouter({ controller: deps.controller, auth, sessions, events, diffs: deps.diffs, bus: deps.bus, tokenFile: deps.controller.paths.operatorToken });
  app.use(pages.routes());
  for (const make of deps.apiRoutes ?? []) app.use(make(auth).routes());
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

/** Controller and runtime changes become SSE events; the browser re-renders what they touch. */
function wireEvents(c: Controller, events: Broadcaster): void {
  c.on('change', (e: Record<string, unknown>) => events.publish('change', e));
  c.on('log', (e: { id: number; agent: string | null; event: string }) => events.publish('log', { id: e.id, agent: e.agent, event: e.event }));
  c.runtime.on('event', (e: { agent: string; type: string; revision: string | null }) => events.publish('runtime', { agent: e.agent, type: e.type, revision: e.revision }));
}
