import { HyperhiveError } from '../errors.ts';

/**
 * Quotas on the bus, so a looping agent cannot flood another's inbox or the database (1,000 sends
 * of 64 KB were all accepted in 5.4 s: +64 MB of db, +237 MB of server memory). 0 turns a limit off.
 * Defaults, for agents that send a few messages per turn and turns of tens of seconds:
 * - an inbox holds at most 1,000 unread messages (ten of recv's batches of 100) or 16 MB (256
 *   messages of the 64 KB maximum): a recipient that far behind is not reading, and more only
 *   grows the db;
 * - a sender may send 60 a minute (one a second, sustained) in bursts of 20 (the manager handing
 *   out work to a fleet, or a turn's report in several parts).
 * Messages from the operator and the controller (`system`) are never refused: they must always get
 * through (a stop, an answer, a decided request); they count toward the inbox all the same.
 */
export interface BusLimits {
  inboxMaxMessages: number;
  inboxMaxBytes: number;
  sendPerMinute: number;
  sendBurst: number;
}

export const DEFAULT_BUS_LIMITS: Readonly<BusLimits> = { inboxMaxMessages: 1000, inboxMaxBytes: 16 * 1024 * 1024, sendPerMinute: 60, sendBurst: 20 };
export const UNLIMITED_SENDERS: ReadonlySet<string> = new Set(['operator', 'system']);

const VARS: Record<keyof BusLimits, string> = {
  inboxMaxMessages: 'HYPERHIVE_INBOX_MAX_MESSAGES',
  inboxMaxBytes: 'HYPERHIVE_INBOX_MAX_BYTES',
  sendPerMinute: 'HYPERHIVE_SEND_PER_MINUTE',
  sendBurst: 'HYPERHIVE_SEND_BURST',
};

/** The limits from the environment (HYPERHIVE_INBOX_MAX_MESSAGES, …), each a whole number ≥ 0; anything else is refused naming the variable. */
export function busLimitsFromEnv(env: NodeJS.ProcessEnv = process.env): BusLimits {
  const out = { ...DEFAULT_BUS_LIMITS };
  for (const [k, name] of Object.entries(VARS) as [keyof BusLimits, string][]) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const n = Number(raw.trim());
    if (!/^[0-9]+$/.test(raw.trim()) || !Number.isSafeInteger(n)) throw new HyperhiveError('bad_request', `${name} must be a whole number (0 turns the limit off), got ${JSON.stringify(raw)}`);
    out[k] = n;
  }
  return out;
}

export type BusLimitName = 'inbox_messages' | 'inbox_bytes' | 'send_rate';

/** A send the limits refused: who, to whom, which limit, and the error the sender gets. */
export interface BusRefusal { from: string; to: string; limit: BusLimitName; error: HyperhiveError }

const mb = (bytes: number): string => `${Math.round((bytes / 1024 / 1024) * 10) / 10} MB`;

/** Why a message of `bodyBytes` to `to` does not fit its inbox of `depth` messages and `bytes`, or null. */
export function inboxRefusal(l: BusLimits, to: string, inbox: { messages: number; bytes: number }, bodyBytes: number): { limit: BusLimitName; error: HyperhiveError } | null {
  const what = `this message was not sent. Wait for ${to} to read its messages (it does with recv), or tell the operator if it seems stuck`;
  if (l.inboxMaxMessages > 0 && inbox.messages + 1 > l.inboxMaxMessages) {
    return { limit: 'inbox_messages', error: new HyperhiveError('inbox_full', `the inbox of ${to} is full: ${inbox.messages} unread messages, the limit is ${l.inboxMaxMessages} (HYPERHIVE_INBOX_MAX_MESSAGES); ${what}`, { to, limit: 'inbox_messages', max: l.inboxMaxMessages }) };
  }
  if (l.inboxMaxBytes > 0 && inbox.bytes + bodyBytes > l.inboxMaxBytes) {
    return { limit: 'inbox_bytes', error: new HyperhiveError('inbox_full', `the inbox of ${to} is full: ${mb(inbox.bytes)} unread (this message ${mb(bodyBytes)} more), the limit is ${mb(l.inboxMaxBytes)} (HYPERHIVE_INBOX_MAX_BYTES); ${what}`, { to, limit: 'inbox_bytes', max: l.inboxMaxBytes }) };
  }
  return null;
}

/**
 * One token bucket per sender: `burst` tokens, refilled at `perMinute`, one taken per send. Pure
 * but for the clock it is given; forgets nothing but its buckets (a restart refills them all).
 */
export class SendRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(private readonly limits: Pick<BusLimits, 'sendPerMinute' | 'sendBurst'>, private readonly now: () => number = Date.now) {}

  /** Takes a token for `from`; when none is left, the refusal (naming the limit and how long to wait) instead. */
  take(from: string): { limit: BusLimitName; error: HyperhiveError } | null {
    const { sendPerMinute: perMinute, sendBurst } = this.limits;
    if (perMinute <= 0) return null;
    const burst = Math.max(1, sendBurst);
    const perMs = perMinute / 60_000;
    const now = this.now();
    const b = this.buckets.get(from) ?? { tokens: burst, at: now };
    b.tokens = Math.min(burst, b.tokens + Math.max(0, now - b.at) * perMs);
    b.at = now;
    this.buckets.set(from, b);
    if (b.tokens >= 1) { b.tokens -= 1; return null; }
    const waitS = Math.max(1, Math.ceil((1 - b.tokens) / perMs / 1000));
    return {
      limit: 'send_rate',
      error: new HyperhiveError('rate_limited', `${from} is sending too fast: the limit is ${perMinute} messages a minute in bursts of ${burst} (HYPERHIVE_SEND_PER_MINUTE, HYPERHIVE_SEND_BURST); this message was not sent. Wait ${waitS} s before sending again, and say more in fewer messages`, { from, limit: 'send_rate', retryAfterSeconds: waitS }),
    };
  }
}

/** True at most once per `everyMs` for a key, counting the calls in between (so a log line can say how many it stands for). */
export class OncePer {
  private readonly last = new Map<string, { at: number; skipped: number }>();
  constructor(private readonly everyMs: number, private readonly now: () => number = Date.now) {}

  /** null when this call is to stay quiet; else how many calls were kept quiet since the last one let through. */
  check(key: string): number | null {
    const now = this.now();
    const e = this.last.get(key);
    if (e && now - e.at < this.everyMs) { e.skipped++; return null; }
    // Keys of pairs long quiet go, so the map stays the size of the pairs refused lately.
    if (this.last.size > 10_000) for (const [k, v] of this.last) if (now - v.at >= this.everyMs) this.last.delete(k);
    this.last.set(key, { at: now, skipped: 0 });
    return e?.skipped ?? 0;
  }
}
