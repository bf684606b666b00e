import type { Context, Middleware } from 'koa';
import type { Identity } from '../../../controller/auth/identity.ts';
import type { Controller } from '../../../controller/controller.ts';
import type { Transcripts } from '../../../controller/transcripts/index.ts';
import { HyperhiveError } from '../../../controller/errors.ts';
import type { AuthOptions } from '../../auth.ts';
import type { Session, SessionStore } from '../../session.ts';
import type { Broadcaster } from '../../sse.ts';
import type { DiffRenderer } from '../../views/diff.ts';
import type { InboxMessage } from '../../views/inbox.ts';
import type { RevisionCache } from './revisions.ts';

/** The bus as the pages use it (structural, so the web layer does not depend on its internals). */
export interface PagesBus {
  depth(recipient: string): number;
  /** Un-acked count per recipient that has any (one query for a page of rows). */
  depths?(): Record<string, number>;
  send(input: { from: string; to: string; body: string; kind?: string }): unknown;
  get(id: number): (InboxMessage & { to: string }) | undefined;
  list(options: { recipient?: string; unacked?: boolean; limit?: number }): InboxMessage[];
  ack(recipient: string, upTo?: number): number;
  onMessage?(listener: (m: { id: number; from: string; to: string }) => void): () => void;
}

export interface PagesOptions {
  controller: Controller;
  auth: AuthOptions;
  sessions: SessionStore;
  events: Broadcaster;
  diffs?: DiffRenderer;
  bus?: PagesBus | null;
  /** Shown on the login page so the operator knows where the token is. */
  tokenFile?: string;
  /** Turn transcripts (the agent page's live turn, the turn pages); absent: those sections are not shown. */
  transcripts?: Transcripts | null;
  /** A terminal server is wired (the HTTP server's upgrade): the agent page shows the terminal. */
  terminal?: boolean;
  now?: () => number;
}

/** What every page router gets: the options with their defaults, the page guard, and the caches the pages share. */
export interface PageContext extends PagesOptions {
  now: () => number;
  diffs: DiffRenderer;
  /** pageErrors + operator check (+ CSRF on cookie writes) + flash binding, in that order. */
  guard: Middleware[];
  revisions: RevisionCache;
}

export const OPERATOR = 'operator';
export const short = (s: string | null | undefined): string => (s ? s.slice(0, 7) : 'none');
export const who = (ctx: Context): Identity => ctx.state.identity as Identity;
export const sessionOf = (ctx: Context): Session | null => (ctx.state.session as Session | undefined) ?? null;

export function html(ctx: Context, body: { value: string }, status = 200): void {
  ctx.status = status;
  ctx.type = 'html';
  ctx.set('Cache-Control', 'no-store');
  ctx.body = body.value;
}

/** Inbox depth for a page, or null when there is no bus (or it cannot answer): the page then says "unknown". */
export function inboxDepth(o: PagesOptions, name: string): number | null {
  try { return o.bus ? o.bus.depth(name) : null; } catch { return null; }
}

/** Unread messages per mailbox for a page of rows: one query for all of them where the bus can. */
export function inboxDepths(o: PagesOptions): (name: string) => number | null {
  if (!o.bus) return () => null;
  if (!o.bus.depths) return (name) => inboxDepth(o, name);
  let all: Record<string, number>;
  try { all = o.bus.depths(); } catch { return () => null; }
  return (name) => all[name] ?? 0;
}

export function requireBus(o: PagesOptions): PagesBus {
  if (!o.bus) throw new HyperhiveError('not_found', 'messaging is not available: no bus is wired into this controller');
  return o.bus;
}
