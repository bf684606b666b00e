import Koa from 'koa';
import type { Controller } from '../controller/controller.ts';
import type { DomainEvent } from '../controller/events.ts';
import type { Transcripts } from '../controller/transcripts/index.ts';
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
  /** Turn transcripts for the pages (the agent page's live turn, the turn pages). */
  transcripts?: Transcripts | null;
  /** The server answers the terminal's WebSocket (serve wires it on the upgrade event). */
  terminal?: boolean;
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
  // A revoked operator's browser sessions end with its token.
  deps.controller.events.on('operator.changed', (e) => { if (e.what === 'revoked') sessions.destroyIdentity({ kind: 'operator', name: e.name }); });
  // Message bodies stay out of the stream: the pages re-fetch what they show.
  deps.bus?.onMessage?.((m) => events.publish('message', { id: m.id, from: m.from, to: m.to }));
  const auth: AuthOptions = {
    tokens: { authenticate: (t) => deps.controller.authenticate(t) },
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
  const pages = pagesRouter({ controller: deps.controller, auth, sessions, events, diffs: deps.diffs, bus: deps.bus, tokenFile: deps.controller.operatorTokenFile, transcripts: deps.transcripts, terminal: deps.terminal });
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

/**
 * Domain events become SSE events; the browser re-renders what they touch. Ids and names only, never
 * bodies: the pages re-fetch what they show. The wire names (`change` with `what`, `log`, `runtime`)
 * are what the page scripts listen for.
 */
function wireEvents(c: Controller, events: Broadcaster): () => void {
  return c.events.subscribe((e) => {
    const sse = toSse(e);
    if (sse) events.publish(sse[0], sse[1]);
  });
}

export function toSse(e: DomainEvent): [string, Record<string, unknown>] | null {
  switch (e.type) {
    case 'request.raised': case 'request.superseded': case 'request.updated': case 'request.decided':
      return ['change', { agent: e.agent, what: 'approval', id: e.id }];
    case 'agent.changed':
      return ['change', { agent: e.agent, what: e.what === 'live' || e.what === 'status' ? e.what : 'agent' }];
    case 'turn':
      return ['change', { agent: e.agent, what: 'agent' }];
    // Ids only: the page fetches the events after the last one it shows.
    case 'transcript.event':
      return ['turn', { agent: e.agent, turn: e.turn, seq: e.event.seq, kind: e.event.kind }];
    case 'transcript.finished':
      return ['turn', { agent: e.agent, turn: e.turn, finished: true, class: e.class }];
    case 'message':
      return ['change', { what: 'message', id: e.id, from: e.from, to: e.to, kind: e.kind, agent: e.to === 'operator' || e.to === 'system' ? null : e.to }];
    case 'runtime':
      return ['runtime', { agent: e.agent, type: e.event.type, revision: e.event.revision }];
    case 'runtime.health':
      return ['runtime', { agent: null, type: 'health', state: e.health.watcher?.state ?? null }];
    case 'log':
      return ['log', { id: e.entry.id, agent: e.entry.agent, event: e.entry.event }];
    case 'operator.changed':
      return ['change', { what: 'operators', name: e.name }];
    case 'policy.changed':
      return ['change', { what: 'policy' }];
    case 'agent.resumed':
    // The pages hear of it through agent.changed.
    case 'agent.lifecycle':
      return null;
  }
}
