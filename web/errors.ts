import type { Context, Next } from 'koa';
import { HyperhiveError } from '../controller/errors.ts';

/** Every error leaves as `{"error": {"code", "message"}}` with its status; unexpected ones are logged, not leaked. */
export async function errorMiddleware(ctx: Context, next: Next): Promise<void> {
  try {
    await next();
  } catch (e) {
    if (e instanceof HyperhiveError) {
      ctx.status = e.status;
      ctx.body = { error: { code: e.code, message: e.message, ...(Object.keys(e.data).length ? { data: e.data } : {}) } };
      return;
    }
    const err = e as { status?: number; expose?: boolean; message?: string };
    if (err.status && err.status < 500 && err.expose) {
      ctx.status = err.status;
      ctx.body = { error: { code: 'bad_request', message: err.message ?? 'bad request' } };
      return;
    }
    process.stderr.write(`${JSON.stringify({ ts: new Date().toISOString(), level: 'error', event: 'http-error', path: ctx.path, msg: (e as Error).stack ?? String(e) })}\n`);
    ctx.status = 500;
    ctx.body = { error: { code: 'internal', message: 'internal error (see the controller log)' } };
  }
}
