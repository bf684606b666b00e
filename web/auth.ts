import type { Context, Next } from 'koa';
import type { Identity, TokenRegistry } from '../controller/auth/index.ts';
import { tokenFromAuthorization } from '../controller/auth/index.ts';
import { HyperhiveError } from '../controller/errors.ts';

export interface AuthOptions {
  tokens: Pick<TokenRegistry, 'authenticate'>;
  /** Resolves a session cookie to an identity (the web UI's login); null when absent or expired. */
  session?: (ctx: Context) => Identity | null;
  /** Called for cookie-authenticated state-changing requests; throws when the CSRF token is wrong. */
  checkCsrf?: (ctx: Context) => void | Promise<void>;
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Sets ctx.state.identity (and ctx.state.via) from a bearer token or the UI session; never rejects by itself. */
export function authenticate(opts: AuthOptions) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const bearer = tokenFromAuthorization(ctx.get('authorization'));
    if (bearer) {
      const id = opts.tokens.authenticate(bearer);
      if (id) { ctx.state.identity = id; ctx.state.via = 'bearer'; }
    } else if (opts.session) {
      const id = opts.session(ctx);
      if (id) { ctx.state.identity = id; ctx.state.via = 'cookie'; }
    }
    await next();
  };
}

/** Operators only: 401 without a valid identity, 403 for an agent token, CSRF for cookie writes. */
export function requireOperator(opts: AuthOptions) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const id = ctx.state.identity as Identity | undefined;
    if (!id) throw new HyperhiveError('unauthorized', 'authentication required: send `Authorization: Bearer <operator token>` (the token is in <state>/operator.token)');
    if (id.kind !== 'operator') throw new HyperhiveError('forbidden', `agent ${id.name} may not call ${ctx.method} ${ctx.path}`);
    if (ctx.state.via === 'cookie' && !SAFE.has(ctx.method)) await opts.checkCsrf?.(ctx);
    await next();
  };
}

/**
 * An agent's own route (its turn reports and turn events, `/api/agents/:name/…`): that agent's token,
 * or an operator's (CSRF for cookie writes); any other agent is refused naming whose route it is.
 */
export function requireSelfOrOperator(opts: AuthOptions, what: string) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const id = ctx.state.identity as Identity | undefined;
    const name = (ctx as Context & { params?: Record<string, string> }).params?.name ?? '';
    if (!id) throw new HyperhiveError('unauthorized', 'authentication required: the harness sends `Authorization: Bearer <agent token>`');
    if (id.kind === 'agent' && id.name !== name) throw new HyperhiveError('forbidden', `agent ${id.name} may report only its own ${what}, not ${name}'s`);
    if (id.kind === 'operator' && ctx.state.via === 'cookie' && !SAFE.has(ctx.method)) await opts.checkCsrf?.(ctx);
    await next();
  };
}
