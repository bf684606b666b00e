import type { Context } from 'koa';
import { HyperhiveError } from '../controller/errors.ts';

// Ids and numbers in URLs and forms are canonical decimal integers, nothing else. `Number()` took
// `0x1`, `1e0`, `01`, `1.0` and ` 1` for 1 (so POST /api/approvals/0x1/approve acted on #1), and let
// `abc` or `1.5` reach SQL as a 500. One spelling per value, and a 400 naming the parameter otherwise.

const DECIMAL = /^(0|[1-9][0-9]*)$/;
const ID = /^[1-9][0-9]*$/;
const FORM = 'digits only: no sign, spaces, leading zero, fraction or exponent';

export interface IntRange {
  min?: number;
  max?: number;
  /** What the number is, for the message ("ms since the epoch"). */
  unit?: string;
}

const shown = (raw: unknown): string => JSON.stringify(typeof raw === 'string' ? raw.slice(0, 40) : raw ?? null);
const bad = (name: string, message: string): HyperhiveError => new HyperhiveError('bad_request', message, { field: name });

/** A canonical decimal integer from min to max (default 0 … MAX_SAFE_INTEGER). */
export function intValue(raw: unknown, name: string, { min = 0, max = Number.MAX_SAFE_INTEGER, unit }: IntRange = {}): number {
  const n = typeof raw === 'string' && DECIMAL.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw bad(name, `${name} must be a decimal integer from ${min} to ${max}${unit ? ` (${unit})` : ''}, ${FORM}; got ${shown(raw)}`);
  }
  return n;
}

/** An id in a path (`:id`): `^[1-9][0-9]*$` within the safe-integer range; `name` says whose ("request id"). */
export function idParam(value: unknown, name: string): number {
  const n = typeof value === 'string' && ID.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n)) throw bad(name, `${name} must be a positive decimal integer like 12, ${FORM}; got ${shown(value)}`);
  return n;
}

/** An optional query parameter: absent is undefined; present (even empty) it must be one integer in range. */
export function intQuery(ctx: Context, name: string, range: IntRange = {}): number | undefined {
  const raw = ctx.query[name];
  if (raw === undefined) return undefined;
  if (Array.isArray(raw)) throw bad(name, `${name} given more than once`);
  return intValue(raw, name, range);
}
