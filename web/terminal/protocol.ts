// The terminal's WebSocket protocol (`/api/agents/:name/terminal`, subprotocol `hyperhive.terminal.v1`).
// Binary frames are terminal bytes, both ways, never decoded. Text frames are JSON control messages:
// the client resizes, acknowledges bytes it has rendered (flow control), asks for the keyboard; the
// server says who has it, who watches, the size, and why a session ended.

export const SUBPROTOCOL = 'hyperhive.terminal.v1';
/** A browser cannot set headers on a WebSocket: it offers its session's CSRF token as a second subprotocol. */
export const CSRF_PROTOCOL_PREFIX = 'hyperhive.csrf.';

export type Role = 'writer' | 'reader';
export interface ViewerInfo { id: string; who: string; role: Role; since: number }

export type ClientMessage =
  | { type: 'resize'; cols: number; rows: number }
  /** Bytes of output the viewer's terminal has processed since its last ack (from `term.write` callbacks). */
  | { type: 'ack'; bytes: number }
  /** A reader asks for the keyboard; the writer becomes a reader. */
  | { type: 'take' };

export type ServerMessage =
  | { type: 'hello'; session: string; agent: string; viewer: string; role: Role; writer: string | null; viewers: ViewerInfo[]; cols: number; rows: number; revision: string | null; runtime: string; isolated: boolean; note: string; idleMs: number; restored: number }
  | { type: 'role'; role: Role; writer: string | null }
  | { type: 'viewers'; viewers: ViewerInfo[]; writer: string | null }
  | { type: 'size'; cols: number; rows: number }
  | { type: 'notice'; message: string }
  | { type: 'ended'; reason: EndReason; message: string }
  | { type: 'error'; code: string; message: string };

export type EndReason = 'idle' | 'revision' | 'stopped' | 'exited' | 'shutdown' | 'slow';

/** Close codes (4000 + the HTTP status the refusal would have had, where there is one). */
export const CLOSE = {
  badRequest: 4400,
  forbidden: 4403,
  notFound: 4404,
  /** The agent does not run, or its runtime cannot open a terminal. */
  conflict: 4409,
  /** The session ended (idle, new revision, shell exited, agent stopped): reconnecting opens a new one. */
  ended: 4410,
  /** This viewer did not keep up with the output and was dropped. */
  tooSlow: 4429,
  /** The controller is stopping. */
  goingAway: 1001,
} as const;

export const MAX_SIZE = 1000;

const isInt = (v: unknown, min: number, max: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

/** A control message from a viewer, or null when it is not one (ignored, never fatal). */
export function parseClientMessage(text: string): ClientMessage | null {
  let m: unknown;
  try { m = JSON.parse(text); } catch { return null; }
  if (typeof m !== 'object' || m === null) return null;
  const o = m as Record<string, unknown>;
  if (o.type === 'resize' && isInt(o.cols, 2, MAX_SIZE) && isInt(o.rows, 2, MAX_SIZE)) return { type: 'resize', cols: o.cols, rows: o.rows };
  if (o.type === 'ack' && isInt(o.bytes, 0, Number.MAX_SAFE_INTEGER)) return { type: 'ack', bytes: o.bytes };
  if (o.type === 'take') return { type: 'take' };
  return null;
}

/** A size from the URL (`?cols=&rows=`), else the default. */
export function sizeParam(raw: string | null, dflt: number): number {
  const n = raw && /^[1-9][0-9]{0,3}$/.test(raw) ? Number(raw) : NaN;
  return Number.isInteger(n) && n >= 2 && n <= MAX_SIZE ? n : dflt;
}
