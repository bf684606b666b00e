import type { DB } from '../db/open.ts';

export const WEBHOOK_EVENTS = ['request.created', 'request.decided', 'tool.waiting', 'agent.stalled', 'container.crashed', 'test'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export interface Webhook { id: number; url: string; events: WebhookEvent[]; createdAt: number; createdBy: string }
export interface WebhookRow extends Webhook { secret: string }
export type DeliveryStatus = 'pending' | 'delivered' | 'failed';
export interface Attempt { at: number; status: number | null; error: string | null; ms: number }
export interface Delivery {
  id: number; webhookId: number; event: WebhookEvent; agent: string | null; body: string; status: DeliveryStatus;
  attempts: number; nextAt: number | null; lastStatus: number | null; lastError: string | null; createdAt: number; doneAt: number | null; log: Attempt[];
}

const hookOf = (r: Record<string, unknown>): WebhookRow => ({
  id: r.id as number, url: r.url as string, events: JSON.parse(r.events as string), secret: r.secret as string,
  createdAt: r.created_at as number, createdBy: r.created_by as string,
});
const deliveryOf = (r: Record<string, unknown>): Delivery => ({
  id: r.id as number, webhookId: r.webhook_id as number, event: r.event as WebhookEvent, agent: r.agent as string | null, body: r.body as string,
  status: r.status as DeliveryStatus, attempts: r.attempts as number, nextAt: r.next_at as number | null, lastStatus: r.last_status as number | null,
  lastError: r.last_error as string | null, createdAt: r.created_at as number, doneAt: r.done_at as number | null, log: JSON.parse(r.log as string),
});

/** Keep this many deliveries per webhook (the newest); older ones are pruned as new ones come. */
export const DELIVERIES_KEPT = 500;

export class WebhookStore {
  constructor(private db: DB, private now: () => number = Date.now) {}

  list(): WebhookRow[] { return (this.db.prepare('SELECT * FROM webhooks ORDER BY id').all() as Record<string, unknown>[]).map(hookOf); }
  get(id: number): WebhookRow | null {
    const r = this.db.prepare('SELECT * FROM webhooks WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return r ? hookOf(r) : null;
  }
  insert(h: { url: string; events: WebhookEvent[]; secret: string; createdBy: string }): WebhookRow {
    const id = Number(this.db.prepare('INSERT INTO webhooks (url, events, secret, created_at, created_by) VALUES (?, ?, ?, ?, ?)')
      .run(h.url, JSON.stringify(h.events), h.secret, this.now(), h.createdBy).lastInsertRowid);
    return this.get(id)!;
  }
  delete(id: number): boolean {
    return this.db.transaction(() => {
      this.db.prepare('DELETE FROM webhook_deliveries WHERE webhook_id = ?').run(id);
      return this.db.prepare('DELETE FROM webhooks WHERE id = ?').run(id).changes > 0;
    })();
  }

  addDelivery(d: { webhookId: number; event: WebhookEvent; agent: string | null; body: string }): Delivery {
    const id = Number(this.db.prepare("INSERT INTO webhook_deliveries (webhook_id, event, agent, body, status, next_at, created_at) VALUES (?, ?, ?, ?, 'pending', ?, ?)")
      .run(d.webhookId, d.event, d.agent, d.body, this.now(), this.now()).lastInsertRowid);
    this.db.prepare(`DELETE FROM webhook_deliveries WHERE webhook_id = ? AND status != 'pending' AND id <= (
      SELECT id FROM webhook_deliveries WHERE webhook_id = ? ORDER BY id DESC LIMIT 1 OFFSET ${DELIVERIES_KEPT})`).run(d.webhookId, d.webhookId);
    return this.delivery(id)!;
  }
  delivery(id: number): Delivery | null {
    const r = this.db.prepare('SELECT * FROM webhook_deliveries WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return r ? deliveryOf(r) : null;
  }
  deliveries(webhookId: number, limit = 100): Delivery[] {
    return (this.db.prepare('SELECT * FROM webhook_deliveries WHERE webhook_id = ? ORDER BY id DESC LIMIT ?').all(webhookId, Math.min(Math.max(limit, 1), DELIVERIES_KEPT)) as Record<string, unknown>[]).map(deliveryOf);
  }
  /** Pending deliveries due by `at`, oldest first. */
  due(at: number, limit: number): Delivery[] {
    return (this.db.prepare("SELECT * FROM webhook_deliveries WHERE status = 'pending' AND next_at <= ? ORDER BY next_at, id LIMIT ?").all(at, limit) as Record<string, unknown>[]).map(deliveryOf);
  }
  /** When the next pending delivery is due, or null. */
  nextDue(): number | null {
    const r = this.db.prepare("SELECT MIN(next_at) AS t FROM webhook_deliveries WHERE status = 'pending'").get() as { t: number | null };
    return r.t;
  }
  recordAttempt(id: number, a: Attempt, outcome: { status: DeliveryStatus; nextAt: number | null }): Delivery {
    const cur = this.delivery(id)!;
    const log = [...cur.log, a].slice(-20);
    this.db.prepare('UPDATE webhook_deliveries SET attempts = attempts + 1, status = ?, next_at = ?, last_status = ?, last_error = ?, done_at = ?, log = ? WHERE id = ?')
      .run(outcome.status, outcome.nextAt, a.status, a.error, outcome.status === 'pending' ? null : a.at, JSON.stringify(log), id);
    return this.delivery(id)!;
  }
}
