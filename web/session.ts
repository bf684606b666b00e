import crypto from 'node:crypto';
import type Koa from 'koa';
import type { Identity } from '../controller/auth/identity.ts';
import type { TokenRegistry } from '../controller/auth/tokens.ts';
import { HyperhiveError } from '../controller/errors.ts';
import { readJson } from './body.ts';
import type { Flash } from './views/layout.ts';

// Browser sessions for operators: the login form posts the operator token once; afterwards an opaque
// random session id rides in an HttpOnly SameSite=Strict cookie. Cookies are sent by the browser on
// its own, so every state-changing request made with one must also carry the session's CSRF token.

export const SESSION_COOKIE = 'hh_session';
export const CSRF_HEADER = 'x-csrf-token';
export const CSRF_FIELD = '_csrf';

export interface Session {
  id: string;
  csrf: string;
  identity: Identity;
  createdAt: number;
  /** Absolute end; the idle limit slides with use. */
  expiresAt: number;
  lastSeen: number;
  /** Messages shown once on the next page (post/redirect/get). */
  flash: Flash[];
}

export interface SessionStoreOptions {
  /** Hard lifetime of a session. */
  ttlMs?: number;
  /** A session unused this long ends. */
  idleMs?: number;
  /** Oldest sessions are dropped past this many, so a login loop cannot fill memory. */
  max?: number;
  now?: () => number;
}

const randomId = (): string => crypto.randomBytes(32).toString('base64url');
const digest = (s: string): Buffer => crypto.createHash('sha256').update(s, 'utf8').digest();

/** Constant-time string comparison (lengths hidden by hashing both sides first). */
export function safeEqual(a: string, b: string): boolean {
  return crypto.timingSafeEqual(digest(a), digest(b)) && a.length === b.length;
}

export class SessionStore {
  private sessions = new Map<string, Session>();
  private readonly ttlMs: number;
  private readonly idleMs: number;
  private readonly max: number;
  private readonly now: () => number;

  constructor(o: SessionStoreOptions = {}) {
    this.ttlMs = o.ttlMs ?? 12 * 60 * 60 * 1000;
    this.idleMs = o.idleMs ?? 2 * 60 * 60 * 1000;
    this.max = o.max ?? 1000;
    this.now = o.now ?? Date.now;
  }

  create(identity: Identity): Session {
    const now = this.now();
    const s: Session = { id: randomId(), csrf: randomId(), identity, createdAt: now, expiresAt: now + this.ttlMs, lastSeen: now, flash: [] };
    this.sessions.set(s.id, s);
    while (this.sessions.size > this.max) this.sessions.delete(this.sessions.keys().next().value!);
    return s;
  }

  /** The live session for an id (touching it), or null when unknown, expired or idle too long. */
  get(id: string | null | undefined): Session | null {
    if (!id) return null;
    const s = this.sessions.get(id);
    if (!s) return null;
    const now = this.now();
    if (now >= s.expiresAt || now - s.lastSeen >= this.idleMs) { this.sessions.delete(id); return null; }
    s.lastSeen = now;
    return s;
  }

  destroy(id: string | null | undefined): void { if (id) this.sessions.delete(id); }

  /** Ends every session of an identity (e.g. when its token is rotated). */
  destroyIdentity(identity: Identity): void {
    for (const [k, s] of this.sessions) if (s.identity.kind === identity.kind && s.identity.name === identity.name) this.sessions.delete(k);
  }

  /** The live sessions (who is logged in now), newest first; expired ones are dropped on the way. */
  list(): Session[] {
    this.sweep();
    return [...this.sessions.values()].reverse();
  }

  sweep(): void {
    const now = this.now();
    for (const [k, s] of this.sessions) if (now >= s.expiresAt || now - s.lastSeen >= this.idleMs) this.sessions.delete(k);
  }

  get count(): number { return this.sessions.size; }
}

export const isSafeMethod = (method: string): boolean => method === 'GET' || method === 'HEAD' || method === 'OPTIONS';

export function sessionFromCookie(ctx: Koa.Context, store: SessionStore): Session | null {
  return store.get(ctx.cookies.get(SESSION_COOKIE));
}

export function setSessionCookie(ctx: Koa.Context, s: Session, ttlMs: number = s.expiresAt - s.createdAt): void {
  ctx.cookies.set(SESSION_COOKIE, s.id, { httpOnly: true, sameSite: 'strict', path: '/', secure: ctx.secure, maxAge: ttlMs, overwrite: true });
}

export function clearSessionCookie(ctx: Koa.Context): void {
  ctx.cookies.set(SESSION_COOKIE, '', { httpOnly: true, sameSite: 'strict', path: '/', secure: ctx.secure, maxAge: 0, overwrite: true });
}

export const isFormRequest = (ctx: Koa.Context): boolean => !!ctx.is('application/x-www-form-urlencoded');

/**
 * Checks the CSRF token of a cookie-authenticated state-changing request: header `x-csrf-token`, or
 * for a urlencoded form the hidden field `_csrf` (the form is then read once by web/body.ts and kept).
 * Throws 403 when missing or wrong.
 */
export async function assertCsrf(ctx: Koa.Context, s: Session): Promise<void> {
  if (isSafeMethod(ctx.method)) return;
  let presented: string | undefined = ctx.get(CSRF_HEADER) || undefined;
  if (!presented && isFormRequest(ctx)) {
    const field = (await readJson(ctx))[CSRF_FIELD];
    presented = typeof field === 'string' ? field : undefined;
  }
  if (!presented) throw new HyperhiveError('forbidden', `missing CSRF token: send the ${CSRF_HEADER} header (or the ${CSRF_FIELD} form field) with requests made with the session cookie`);
  if (!safeEqual(presented, s.csrf)) throw new HyperhiveError('forbidden', 'wrong CSRF token for this session; reload the page');
}

/**
 * A login form post from another site is refused. Fetch metadata decides where the browser sends it
 * (Chromium and Firefox do); otherwise Origin, when present and not "null" (our Referrer-Policy
 * no-referrer makes browsers send "null" even for our own forms).
 */
export function sameOrigin(ctx: Koa.Context): boolean {
  const site = ctx.get('sec-fetch-site');
  if (site) return site === 'same-origin' || site === 'none';
  const origin = ctx.get('origin');
  if (!origin || origin === 'null') return true;
  try { return new URL(origin).host === ctx.host; } catch { return false; }
}

/** Only same-site paths are followed after login, never an absolute or protocol-relative URL. */
export function safeNext(next: unknown): string {
  return typeof next === 'string' && /^\/(?![/\\])/.test(next) && !/[\r\n]/.test(next) ? next : '/';
}

export interface LoginResult { ok: true; session: Session; next: string }
export interface LoginFailure { ok: false; status: number; message: string }

/** Exchanges the posted operator token for a session (and sets its cookie); no cookie on failure. */
export function login(ctx: Koa.Context, form: Record<string, unknown>, tokens: Pick<TokenRegistry, 'authenticate'>, store: SessionStore): LoginResult | LoginFailure {
  if (!sameOrigin(ctx)) return { ok: false, status: 403, message: 'login refused: the form was posted from another origin' };
  const token = typeof form.token === 'string' ? form.token.trim() : '';
  if (!token) return { ok: false, status: 400, message: 'paste the operator token (the contents of operator.token in the state dir)' };
  const identity = tokens.authenticate(token);
  if (!identity || identity.kind !== 'operator') return { ok: false, status: 401, message: 'that token is not an operator token' };
  const session = store.create(identity);
  setSessionCookie(ctx, session);
  return { ok: true, session, next: safeNext(form.next) };
}

export function logout(ctx: Koa.Context, store: SessionStore): void {
  store.destroy(ctx.cookies.get(SESSION_COOKIE));
  clearSessionCookie(ctx);
}
