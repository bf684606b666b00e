import type { Context } from 'koa';
import type { Flash } from '../../views/layout.ts';
import { sessionOf } from './context.ts';

type PendingFlash = Flash & { path: string };

/**
 * Flash messages of the session meant for this page. Each is bound to the path its redirect went to,
 * and the browser script's background refreshes (x-hh-refresh) never take one, so a refresh racing
 * a redirect cannot swallow the message.
 */
export function takeFlash(ctx: Context): Flash[] {
  const s = sessionOf(ctx);
  if (!s || !s.flash.length || ctx.get('x-hh-refresh')) return [];
  const all = s.flash as PendingFlash[];
  const mine = all.filter((f) => f.path === ctx.path);
  s.flash = all.filter((f) => f.path !== ctx.path);
  return mine.map(({ kind, message }) => ({ kind, message }));
}

/** Queues a message for the page this request redirects to (bound by the page guard once the handler is done). */
export function flash(ctx: Context, kind: Flash['kind'], message: string): void {
  ((ctx.state.flash ??= []) as Flash[]).push({ kind, message });
}

export function bindFlash(ctx: Context): void {
  const pending = ctx.state.flash as Flash[] | undefined;
  const s = sessionOf(ctx);
  if (!pending?.length || !s) return;
  const location = ctx.response.get('location');
  const path = location ? new URL(location, 'http://x').pathname : ctx.path;
  s.flash = [...(s.flash as PendingFlash[]).slice(-20), ...pending.map((f) => ({ ...f, path }))];
}
