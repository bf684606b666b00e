import type { Context } from 'koa';
import { HyperhiveError } from '../controller/errors.ts';

export const MAX_BODY_BYTES = 1024 * 1024;

/** Reads the request body with a hard size limit; a larger body is refused before it is buffered whole. */
export async function readBody(ctx: Context, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > limit) throw new HyperhiveError('too_large', `request body of ${declared} bytes is over the ${limit}-byte limit`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new HyperhiveError('too_large', `request body is over the ${limit}-byte limit`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** JSON object body; an empty body is `{}`. Form posts (the UI without JS) are accepted too. */
export async function readJson(ctx: Context): Promise<Record<string, unknown>> {
  if (ctx.state.body !== undefined) return ctx.state.body as Record<string, unknown>;
  const raw = await readBody(ctx);
  let value: Record<string, unknown> = {};
  const type = ctx.get('content-type');
  if (raw.length) {
    if (type.startsWith('application/x-www-form-urlencoded')) {
      ctx.state.formParams = new URLSearchParams(raw.toString('utf8'));
      value = Object.fromEntries(ctx.state.formParams as URLSearchParams);
    } else {
      let parsed: unknown;
      try { parsed = JSON.parse(raw.toString('utf8')); } catch (e) {
        throw new HyperhiveError('invalid_json', `request body is not valid JSON: ${(e as Error).message}`);
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new HyperhiveError('invalid_json', 'request body must be a JSON object');
      value = parsed as Record<string, unknown>;
    }
  }
  ctx.state.body = value;
  return value;
}

/** A urlencoded form with every value of a repeated field (checkboxes); readJson keeps only the last. */
export async function readForm(ctx: Context): Promise<URLSearchParams> {
  const body = await readJson(ctx);
  return (ctx.state.formParams as URLSearchParams | undefined) ?? new URLSearchParams(Object.entries(body).map(([k, v]) => [k, String(v)]));
}
