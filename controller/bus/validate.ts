import { HyperhiveError } from '../errors.ts';
import { assertAgentName } from '../names.ts';

// Reserved names that are nevertheless mailboxes; every other recipient is an agent name ('manager' included).
const SPECIAL_MAILBOXES = new Set(['operator', 'system']);
export const KIND_PATTERN = /^[a-z][a-z0-9_-]{0,31}$/;
export const MAX_WAIT_MS = 300_000;

/** A sender or recipient: an agent name, 'manager', 'operator' or 'system'. */
export function assertMailbox(value: unknown, field: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new HyperhiveError('bad_request', `${field} is required: an agent name, manager, operator or system`, { field });
  }
  if (SPECIAL_MAILBOXES.has(value)) return;
  try {
    assertAgentName(value);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new HyperhiveError('bad_request', `${field}: ${why} (or one of manager, operator, system)`, { field });
  }
}

export function assertKind(value: unknown): asserts value is string {
  if (typeof value !== 'string' || !KIND_PATTERN.test(value)) {
    const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : typeof value;
    throw new HyperhiveError('bad_request',
      `kind ${shown} is invalid: a kind matches ${KIND_PATTERN.source} (e.g. message, event, question, answer)`, { field: 'kind' });
  }
}

export function assertBody(value: unknown, maxBytes: number): asserts value is string {
  if (typeof value !== 'string') {
    throw new HyperhiveError('bad_request', `body must be a string, got ${value === null ? 'null' : typeof value}`, { field: 'body' });
  }
  if (value.length === 0) throw new HyperhiveError('bad_request', 'body is empty', { field: 'body' });
  // A UTF-16 length above the limit / 3 may still fit; only count bytes when it could matter.
  const bytes = value.length * 3 <= maxBytes ? value.length : Buffer.byteLength(value, 'utf8');
  if (bytes > maxBytes) {
    throw new HyperhiveError('too_large', `message body is ${bytes} bytes; the limit is ${maxBytes} bytes`,
      { field: 'body', size: bytes, limit: maxBytes });
  }
}

/** A wait in ms; fractions round up so a tiny positive wait still waits. */
export function waitMsOf(value: unknown): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_WAIT_MS) {
    throw new HyperhiveError('bad_request', `waitMs must be a number of milliseconds from 0 to ${MAX_WAIT_MS}, got ${JSON.stringify(value)}`, { field: 'waitMs' });
  }
  return Math.ceil(value);
}

export function intInRange(value: unknown, field: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new HyperhiveError('bad_request', `${field} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`, { field });
  }
  return value;
}
