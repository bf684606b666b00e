import type { BusLimits, BusRefusal } from './limits.ts';

/** A stored bus message, as every reader (recv, list, onMessage, the API) sees it. */
export interface BusMessage {
  id: number;
  from: string;
  to: string;
  kind: string;
  body: string;
  createdAt: number;
  /** When it was last handed out by recv (null: never). */
  deliveredAt: number | null;
  /** How many times recv has handed it out; above 1 means it was redelivered. */
  deliveries: number;
  ackedAt: number | null;
}

export interface SendInput {
  from: string;
  to: string;
  kind?: string;
  body: string;
}

export interface RecvOptions {
  /** How long to long-poll when nothing is waiting, 0..300000 ms (default 0: answer at once). */
  waitMs?: number;
  /** At most this many messages per call, 1..10000 (default 100); the rest come on the next recv. */
  max?: number;
  /** Cancels a waiting recv: it rejects with the signal's reason and hands out nothing. */
  signal?: AbortSignal;
}

export interface ListOptions {
  recipient?: string;
  from?: string;
  /** Only messages with an id above this one (a cursor), oldest first. Without it: the newest `limit`. */
  since?: number;
  /** Only messages not yet acked. */
  unacked?: boolean;
  /** 1..1000, default 100. */
  limit?: number;
}

export interface BusOptions {
  /** Largest body in UTF-8 bytes (default 65536). */
  maxBodyBytes?: number;
  /** How long acked messages are kept before prune removes them (default 7 days). */
  retentionMs?: number;
  /** Clock for stored timestamps and the send-rate buckets (tests); waiting always uses the real clock. */
  now?: () => number;
  /** A waiting recv re-reads the table this often even without a wake-up, for writers in other processes (default 2000 ms). */
  recheckMs?: number;
  /** Where a throwing onMessage listener's error goes (default: ignored, so one bad listener cannot fail a send). */
  onListenerError?: (err: unknown) => void;
  /** Inbox and send-rate quotas (limits.ts); default none. serve() passes busLimitsFromEnv(). */
  limits?: BusLimits;
  /** Called for every send the quotas refused, after the refusal is decided (stats, the operator's log). */
  onRefused?: (refusal: BusRefusal) => void;
}

export type MessageListener = (message: BusMessage) => void;
