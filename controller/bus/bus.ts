import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { DB } from '../db/open.ts';
import { HyperhiveError } from '../errors.ts';
import { inboxRefusal, SendRateLimiter, UNLIMITED_SENDERS, type BusLimits, type BusRefusal } from './limits.ts';
import type { BusMessage, BusOptions, ListOptions, MessageListener, RecvOptions, SendInput } from './types.ts';
import { assertBody, assertKind, assertMailbox, intInRange, waitMsOf } from './validate.ts';
import { Waiters } from './waiters.ts';

type Range = { lo: number; hi: number };
interface Take {
  recipient: string;
  max: number;
  ackFirst: boolean;
  resolve: (rows: BusMessage[]) => void;
  reject: (err: unknown) => void;
}

const COLUMNS = `id, sender AS "from", recipient AS "to", kind, body, created_at AS createdAt,
  delivered_at AS deliveredAt, deliveries, acked_at AS ackedAt`;
const DAY_MS = 86_400_000;

/**
 * Durable mailboxes in sqlite. Delivery is at-least-once: a message recv hands out stays
 * un-acked until that recipient's next recv through this same Bus, so a turn (or a controller)
 * that dies with messages in hand gets them again instead of losing them.
 */
export class Bus {
  readonly maxBodyBytes: number;
  readonly retentionMs: number;
  private readonly now: () => number;
  private readonly recheckMs: number;
  private readonly onListenerError: (err: unknown) => void;
  private readonly limits: BusLimits | null;
  private readonly rate: SendRateLimiter | null;
  private readonly onRefused: (r: BusRefusal) => void;
  // Tags the rows this instance hands out; a new instance (a restarted controller) never acks the old one's.
  private readonly delivery = randomBytes(8).toString('hex');
  private readonly waiters = new Waiters();
  private readonly listeners = new Set<MessageListener>();
  // Per recipient, the id range this instance handed out since its last ack: bounds the ack's scan
  // to those rows instead of the whole backlog.
  private readonly outstanding = new Map<string, Range>();
  private pendingTakes: Take[] = [];
  private closed = false;

  private readonly stmt;
  private readonly takeTx;
  private readonly listCache = new Map<string, Database.Statement<(string | number)[]>>();

  constructor(private readonly db: DB, options: BusOptions = {}) {
    this.maxBodyBytes = intInRange(options.maxBodyBytes, 'maxBodyBytes', 1, 1 << 30, 65_536);
    this.retentionMs = intInRange(options.retentionMs, 'retentionMs', 0, Number.MAX_SAFE_INTEGER, 7 * DAY_MS);
    this.recheckMs = intInRange(options.recheckMs, 'recheckMs', 10, 3_600_000, 2_000);
    this.now = options.now ?? Date.now;
    this.onListenerError = options.onListenerError ?? (() => {});
    this.limits = options.limits ? { ...options.limits } : null;
    if (this.limits) for (const [k, v] of Object.entries(this.limits)) intInRange(v, k, 0, Number.MAX_SAFE_INTEGER, 0);
    this.rate = this.limits ? new SendRateLimiter(this.limits, this.now) : null;
    this.onRefused = options.onRefused ?? (() => {});

    this.stmt = {
      insert: db.prepare(`INSERT INTO bus_messages (sender, recipient, kind, body, created_at, bytes) VALUES (?, ?, ?, ?, ?, ?)`),
      // INDEXED BY: the hot path must only ever touch the un-acked rows, however many acked ones pile up.
      ackOwn: db.prepare(`UPDATE bus_messages INDEXED BY bus_unacked SET acked_at = ?
        WHERE recipient = ? AND acked_at IS NULL AND delivery = ? AND id BETWEEN ? AND ?`),
      fresh: db.prepare(`SELECT ${COLUMNS} FROM bus_messages INDEXED BY bus_unacked
        WHERE recipient = ? AND acked_at IS NULL AND (delivery IS NULL OR delivery <> ?) ORDER BY id LIMIT ?`),
      markDelivered: db.prepare(`UPDATE bus_messages INDEXED BY bus_unacked SET delivered_at = ?, delivery = ?, deliveries = deliveries + 1
        WHERE recipient = ? AND acked_at IS NULL AND (delivery IS NULL OR delivery <> ?) AND id BETWEEN ? AND ?`),
      ackDelivered: db.prepare(`UPDATE bus_messages INDEXED BY bus_unacked SET acked_at = ?
        WHERE recipient = ? AND acked_at IS NULL AND delivery IS NOT NULL`),
      ackUpTo: db.prepare(`UPDATE bus_messages INDEXED BY bus_unacked SET acked_at = ?, delivered_at = COALESCE(delivered_at, ?)
        WHERE recipient = ? AND acked_at IS NULL AND id <= ?`),
      release: db.prepare(`UPDATE bus_messages INDEXED BY bus_unacked SET delivery = NULL
        WHERE recipient = ? AND acked_at IS NULL AND delivery = ? AND id BETWEEN ? AND ?`),
      redeliver: db.prepare(`UPDATE bus_messages INDEXED BY bus_unacked SET delivery = NULL
        WHERE recipient = ? AND acked_at IS NULL AND delivery IS NOT NULL`),
      depth: db.prepare(`SELECT COUNT(*) AS n FROM bus_messages INDEXED BY bus_unacked WHERE recipient = ? AND acked_at IS NULL`).pluck(),
      inbox: db.prepare(`SELECT COUNT(*) AS messages, COALESCE(SUM(bytes), 0) AS bytes FROM bus_messages INDEXED BY bus_unacked WHERE recipient = ? AND acked_at IS NULL`),
      depths: db.prepare(`SELECT recipient, COUNT(*) AS n FROM bus_messages WHERE acked_at IS NULL GROUP BY recipient ORDER BY recipient`),
      get: db.prepare(`SELECT ${COLUMNS} FROM bus_messages WHERE id = ?`),
      // Keeps the newest row whatever its age, so the next id is still above every id ever given.
      prune: db.prepare(`DELETE FROM bus_messages WHERE acked_at IS NOT NULL AND acked_at < ?
        AND id < (SELECT MAX(id) FROM bus_messages)`),
    };

    this.takeTx = db.transaction((takes: Take[], ranges: Map<string, Range | undefined>): BusMessage[][] => {
      const at = this.now();
      const rangeOf = (r: string) => (ranges.has(r) ? ranges.get(r) : this.outstanding.get(r));
      return takes.map(({ recipient, max, ackFirst }) => {
        if (ackFirst) {
          const ack = rangeOf(recipient);
          if (ack) this.stmt.ackOwn.run(at, recipient, this.delivery, ack.lo, ack.hi);
          ranges.set(recipient, undefined);
        }
        const rows = this.stmt.fresh.all(recipient, this.delivery, max) as BusMessage[];
        if (rows.length === 0) return rows;
        const lo = rows[0]!.id;
        const hi = rows[rows.length - 1]!.id;
        this.stmt.markDelivered.run(at, this.delivery, recipient, this.delivery, lo, hi);
        const prev = rangeOf(recipient);
        ranges.set(recipient, prev ? { lo: Math.min(prev.lo, lo), hi: Math.max(prev.hi, hi) } : { lo, hi });
        for (const r of rows) { r.deliveredAt = at; r.deliveries += 1; }
        return rows;
      });
    });
  }

  /**
   * The ack of a recipient's previous batch and the hand-out of its next commit in one write
   * transaction, so a kill in between can neither lose nor double-ack. Every take asked for in the
   * same tick (50 waiters woken by one burst of sends) shares that transaction: one commit, not 50.
   */
  private take(recipient: string, max: number, ackFirst: boolean): Promise<BusMessage[]> {
    return new Promise((resolve, reject) => {
      if (this.pendingTakes.push({ recipient, max, ackFirst, resolve, reject }) === 1) queueMicrotask(() => this.flushTakes());
    });
  }

  private flushTakes(): void {
    const takes = this.pendingTakes;
    this.pendingTakes = [];
    if (this.closed) { for (const t of takes) t.resolve([]); return; }
    const ranges = new Map<string, Range | undefined>();
    let results: BusMessage[][];
    try {
      results = this.takeTx.immediate(takes, ranges);
    } catch (e) {
      for (const t of takes) t.reject(e);
      return;
    }
    // Only now that it has committed does memory follow.
    for (const [r, range] of ranges) {
      if (range) this.outstanding.set(r, range); else this.outstanding.delete(r);
    }
    takes.forEach((t, i) => t.resolve(results[i]!));
  }

  /**
   * Stores a message; it is committed (survives SIGKILL) before this returns. With limits, a send
   * past the recipient's inbox quota (`inbox_full`) or the sender's rate (`rate_limited`) is
   * refused, except from the operator and `system`.
   */
  send(input: SendInput): BusMessage {
    if (input === null || typeof input !== 'object') throw new HyperhiveError('bad_request', 'send needs {from, to, body}');
    const { from, to, body } = input;
    const kind = input.kind ?? 'message';
    assertMailbox(from, 'from');
    assertMailbox(to, 'to');
    assertKind(kind);
    assertBody(body, this.maxBodyBytes);
    this.assertOpen();
    const bytes = Buffer.byteLength(body, 'utf8');
    this.checkQuota(from, to, bytes);
    const createdAt = this.now();
    const id = Number(this.stmt.insert.run(from, to, kind, body, createdAt, bytes).lastInsertRowid);
    const message: BusMessage = { id, from, to, kind, body, createdAt, deliveredAt: null, deliveries: 0, ackedAt: null };
    this.waiters.wake(to);
    for (const l of this.listeners) {
      try { l(message); } catch (e) { this.onListenerError(e); }
    }
    return message;
  }

  /**
   * Acks what this Bus handed `recipient` on earlier calls, then returns its un-acked messages
   * oldest first (at most `max`). With none waiting, long-polls up to `waitMs` and answers as soon
   * as one is sent. Aborting `signal` rejects with its reason (nothing is handed out, the ack stands);
   * close() makes a waiting recv answer [].
   */
  async recv(recipient: string, options: RecvOptions = {}): Promise<BusMessage[]> {
    assertMailbox(recipient, 'recipient');
    const waitMs = waitMsOf(options.waitMs);
    const max = intInRange(options.max, 'max', 1, 10_000, 100);
    const { signal } = options;
    signal?.throwIfAborted();
    this.assertOpen();

    // A recv cancelled while its messages were being taken must not keep them: nobody will read
    // them, and the next recv would ack them unread.
    const give = async (ackFirst: boolean) => {
      const rows = await this.take(recipient, max, ackFirst);
      if (rows.length > 0 && signal?.aborted) {
        this.stmt.release.run(recipient, this.delivery, rows[0]!.id, rows[rows.length - 1]!.id);
        this.waiters.wake(recipient);
        throw signal.reason;
      }
      return rows;
    };
    let got = await give(true);
    if (got.length > 0 || waitMs === 0) return got;
    const deadline = Date.now() + waitMs;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0 || this.closed) return [];
      await this.waiters.wait(recipient, Math.min(left, this.recheckMs), signal);
      if (this.closed) return [];
      got = await give(false);
      if (got.length > 0) return got;
    }
  }

  /** Refuses the send when a quota says no: the inbox first, so a refused send takes no token. */
  private checkQuota(from: string, to: string, bytes: number): void {
    if (!this.limits || UNLIMITED_SENDERS.has(from)) return;
    const r = inboxRefusal(this.limits, to, this.inbox(to), bytes) ?? this.rate!.take(from);
    if (!r) return;
    try { this.onRefused({ from, to, ...r }); } catch (e) { this.onListenerError(e); }
    throw r.error;
  }

  /** Un-acked messages of `recipient` and their bytes, as the inbox quota counts them. */
  inbox(recipient: string): { messages: number; bytes: number } {
    assertMailbox(recipient, 'recipient');
    return this.stmt.inbox.get(recipient) as { messages: number; bytes: number };
  }

  /**
   * Acks `recipient`'s messages without a recv: with `upTo`, every un-acked one with id ≤ upTo
   * (the operator reading its inbox in the UI); without, every one already handed out by any
   * instance (a turn that ended cleanly). Returns how many were acked.
   */
  ack(recipient: string, upTo?: number): number {
    assertMailbox(recipient, 'recipient');
    const at = this.now();
    if (upTo === undefined) {
      this.outstanding.delete(recipient);
      return this.stmt.ackDelivered.run(at, recipient).changes;
    }
    intInRange(upTo, 'upTo', 0, Number.MAX_SAFE_INTEGER, 0);
    return this.stmt.ackUpTo.run(at, at, recipient, upTo).changes;
  }

  /**
   * Makes every handed-out, un-acked message of `recipient` come again on its next recv
   * (its agent crashed mid-turn). Returns how many; wakes a waiting recv.
   */
  redeliver(recipient: string): number {
    assertMailbox(recipient, 'recipient');
    const n = this.stmt.redeliver.run(recipient).changes;
    this.outstanding.delete(recipient);
    if (n > 0) this.waiters.wake(recipient);
    return n;
  }

  /** Un-acked messages waiting for (or handed to but not yet acked by) `recipient`. */
  depth(recipient: string): number {
    assertMailbox(recipient, 'recipient');
    return this.stmt.depth.get(recipient) as number;
  }

  /** Un-acked count per recipient that has any, e.g. { manager: 2, operator: 1 }. */
  depths(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.stmt.depths.all() as { recipient: string; n: number }[]) out[r.recipient] = r.n;
    return out;
  }

  get(id: number): BusMessage | undefined {
    intInRange(id, 'id', 0, Number.MAX_SAFE_INTEGER, 0);
    return this.stmt.get.get(id) as BusMessage | undefined;
  }

  /** Messages for the UI, oldest first: after the `since` cursor, else the newest `limit`. */
  list(options: ListOptions = {}): BusMessage[] {
    const limit = intInRange(options.limit, 'limit', 1, 1000, 100);
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (options.recipient !== undefined) { assertMailbox(options.recipient, 'recipient'); where.push('recipient = ?'); args.push(options.recipient); }
    if (options.from !== undefined) { assertMailbox(options.from, 'from'); where.push('sender = ?'); args.push(options.from); }
    if (options.unacked) where.push('acked_at IS NULL');
    const hasSince = options.since !== undefined;
    if (hasSince) { where.push('id > ?'); args.push(intInRange(options.since, 'since', 0, Number.MAX_SAFE_INTEGER, 0)); }
    const sql = `SELECT ${COLUMNS} FROM bus_messages ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY id ${hasSince ? 'ASC' : 'DESC'} LIMIT ?`;
    let st = this.listCache.get(sql);
    if (!st) { st = this.db.prepare<(string | number)[]>(sql); this.listCache.set(sql, st); }
    const rows = st.all(...args, limit) as BusMessage[];
    return hasSince ? rows : rows.reverse();
  }

  /** Deletes acked messages older than the retention; un-acked ones are never pruned. Returns how many. */
  prune(now: number = this.now()): number {
    return this.stmt.prune.run(now - this.retentionMs).changes;
  }

  /** Called after each send commits (the UI's live updates). Returns the unsubscribe function. */
  onMessage(listener: MessageListener): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  /** recv calls currently long-polling (for a recipient, or all). */
  waiting(recipient?: string): number {
    return this.waiters.count(recipient);
  }

  /** Stops the bus: waiting recvs answer [] at once, later sends and recvs are refused. The db stays open. */
  close(): void {
    this.closed = true;
    this.waiters.wakeAll();
    this.listeners.clear();
  }

  private assertOpen(): void {
    if (this.closed) throw new HyperhiveError('conflict', 'the message bus is closed (the controller is shutting down)');
  }
}
