import type { Identity } from '../auth/identity.ts';
import type { Approval } from '../approvals/store.ts';
import { HyperhiveError } from '../errors.ts';
import type { DomainEvent, EventStream } from '../events.ts';
import type { ReconLog } from '../log.ts';
import type { Condition } from '../reconciler/types.ts';
import { agentPayload, decisionPayload, requestPayload, testPayload, type WebhookPayload } from './payload.ts';
import { signature } from './sign.ts';
import { WEBHOOK_EVENTS, type Attempt, type Delivery, type Webhook, type WebhookEvent, type WebhookRow, type WebhookStore } from './store.ts';

export interface RetryOptions { attempts: number; minMs: number; maxMs: number }
export const DEFAULT_RETRY: RetryOptions = { attempts: 6, minMs: 1_000, maxMs: 5 * 60_000 };

export interface WebhookServiceDeps {
  store: WebhookStore;
  events: EventStream;
  log: ReconLog;
  /** The controller's public base URL: payload links point at its pages. */
  baseUrl: () => string;
  approval: (id: number) => Approval | null;
  /** The quorum a request needs (for request.created). */
  required?: (a: Approval) => number;
  /** The agent's conditions (agent.stalled), or null when it is gone. */
  conditions: (agent: string) => Promise<Condition[] | null>;
  retry?: Partial<RetryOptions>;
  /** One attempt's limit; a receiver slower than this failed. */
  timeoutMs?: number;
  concurrency?: number;
  fetch?: typeof fetch;
  now?: () => number;
}

const MAX_URL = 2000;
const MAX_SECRET = 1000;
const MIN_SECRET = 8;

/** Exponential backoff after the n-th failed attempt (1-based). */
export const retryDelay = (n: number, r: RetryOptions): number => Math.min(r.maxMs, r.minMs * 2 ** Math.max(0, n - 1));

/** Checks an operator-given URL: http(s) only, no credentials in it (the list shows URLs), a sane length. */
export function assertWebhookUrl(url: unknown): asserts url is string {
  if (typeof url !== 'string' || !url.trim()) throw new HyperhiveError('bad_request', 'field "url" is required: the receiver\'s http(s) URL', { field: 'url' });
  if (url.length > MAX_URL) throw new HyperhiveError('bad_request', `url: at most ${MAX_URL} characters`, { field: 'url' });
  let u: URL;
  try { u = new URL(url); } catch { throw new HyperhiveError('bad_request', `url: ${JSON.stringify(url.slice(0, 100))} is not a URL`, { field: 'url' }); }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new HyperhiveError('bad_request', `url: only http and https are posted to, not ${u.protocol}`, { field: 'url' });
  if (u.username || u.password) throw new HyperhiveError('bad_request', 'url: no credentials in the URL (they would show in every listing); the receiver checks X-Signature with the secret instead', { field: 'url' });
}

export function assertEvents(events: unknown): asserts events is WebhookEvent[] {
  if (!Array.isArray(events) || !events.length) throw new HyperhiveError('bad_request', `field "events" is required: a non-empty array of ${WEBHOOK_EVENTS.join(', ')}`, { field: 'events' });
  const bad = events.filter((e) => !(WEBHOOK_EVENTS as readonly unknown[]).includes(e));
  if (bad.length) throw new HyperhiveError('bad_request', `events: unknown ${bad.map((b) => JSON.stringify(b)).join(', ')} (known: ${WEBHOOK_EVENTS.join(', ')})`, { field: 'events' });
}

const publicView = ({ secret: _secret, ...w }: WebhookRow): Webhook => w;
const stalledOf = (cs: Condition[]): Condition | null => cs.find((c) => c.type === 'Stalled' && c.status === 'True') ?? null;

/**
 * Outgoing webhooks: domain events become signed JSON posts to the URLs operators configured (only
 * those: nothing an agent sends is ever a destination), retried with backoff, every attempt in the
 * delivery log. Redirects are not followed and an attempt has a time limit. Deliveries are stored
 * before they are sent, so a restarted controller finishes what was pending.
 */
export class WebhookService {
  private readonly retry: RetryOptions;
  private readonly now: () => number;
  private readonly inFlight = new Set<number>();
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private off: (() => void) | null = null;
  private stopped = false;
  private stalled = new Map<string, string>();
  private readonly sending = new Set<Promise<unknown>>();

  constructor(private readonly d: WebhookServiceDeps) {
    this.retry = { ...DEFAULT_RETRY, ...d.retry };
    this.now = d.now ?? Date.now;
  }

  list(): Webhook[] { return this.d.store.list().map(publicView); }

  get(id: number): Webhook {
    const w = this.d.store.get(id);
    if (!w) throw new HyperhiveError('not_found', `no webhook #${id}`);
    return publicView(w);
  }

  create(input: { url?: unknown; events?: unknown; secret?: unknown }, by: Identity): Webhook {
    assertWebhookUrl(input.url);
    assertEvents(input.events);
    const secret = input.secret;
    if (typeof secret !== 'string' || secret.length < MIN_SECRET || secret.length > MAX_SECRET) {
      throw new HyperhiveError('bad_request', `field "secret" is required: ${MIN_SECRET} to ${MAX_SECRET} characters, the key of the X-Signature HMAC`, { field: 'secret' });
    }
    const w = this.d.store.insert({ url: input.url.trim(), events: [...new Set(input.events)], secret, createdBy: by.name });
    this.d.log.info(null, 'webhook-added', `webhook #${w.id} to ${w.url} for ${w.events.join(', ')} added by ${by.name}`, { webhook: w.id });
    this.d.log.audit({ actor: by.name, action: 'webhook-add', data: { webhook: w.id, url: w.url, events: w.events } });
    return publicView(w);
  }

  delete(id: number, by: Identity): Webhook {
    const w = this.get(id);
    this.d.store.delete(id);
    this.d.log.info(null, 'webhook-deleted', `webhook #${id} to ${w.url} deleted by ${by.name}`, { webhook: id });
    this.d.log.audit({ actor: by.name, action: 'webhook-delete', data: { webhook: id, url: w.url } });
    return w;
  }

  deliveries(id: number, limit?: number): Delivery[] {
    this.get(id);
    return this.d.store.deliveries(id, limit);
  }

  /** Sends a `test` event to one webhook now and answers with the delivery after its first attempt. */
  async test(id: number, by: Identity): Promise<Delivery> {
    const w = this.d.store.get(id);
    if (!w) throw new HyperhiveError('not_found', `no webhook #${id}`);
    const d = this.enqueue(w, testPayload(id, by.name, { baseUrl: this.base(), at: this.now() }));
    this.inFlight.add(d.id);
    try { return await this.attempt(this.d.store.delivery(d.id)!); } finally { this.inFlight.delete(d.id); this.schedule(); }
  }

  /** Subscribes to the domain events and resumes the deliveries a restart left pending. */
  start(): void {
    this.stopped = false;
    this.off = this.d.events.subscribe((e) => { try { this.onEvent(e); } catch (err) { this.d.log.warn(null, 'webhook', `cannot queue a notification: ${(err as Error).message}`); } });
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.off?.();
    this.off = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await Promise.allSettled([...this.sending]);
  }

  private base(): string { return this.d.baseUrl().replace(/\/+$/, ''); }

  private onEvent(e: DomainEvent): void {
    const o = { baseUrl: this.base(), at: this.now() };
    if (e.type === 'request.raised') {
      const a = this.d.approval(e.id);
      if (a) this.fanOut(requestPayload(a, { ...o, required: this.d.required?.(a) ?? 1 }));
    } else if (e.type === 'request.decided') {
      const a = this.d.approval(e.id);
      if (a) this.fanOut(decisionPayload(a, o));
    } else if (e.type === 'runtime' && e.event.type === 'crashed') {
      this.fanOut(agentPayload('container.crashed', e.agent, { revision: e.event.revision, message: e.event.message }, o));
    } else if ((e.type === 'agent.changed' && e.what === 'status') || e.type === 'agent.resumed' || e.type === 'turn') {
      void this.checkStalled(e.agent);
    }
  }

  /** agent.stalled on the way into Stalled (or to another reason of it); leaving it re-arms. */
  private async checkStalled(agent: string): Promise<void> {
    const cs = await this.d.conditions(agent).catch(() => null);
    const c = cs ? stalledOf(cs) : null;
    const was = this.stalled.get(agent);
    if (!c) { this.stalled.delete(agent); return; }
    if (was === c.reason) return;
    this.stalled.set(agent, c.reason);
    if (!this.stopped) this.fanOut(agentPayload('agent.stalled', agent, { reason: c.reason, message: c.message }, { baseUrl: this.base(), at: this.now() }));
  }

  private fanOut(p: WebhookPayload): void {
    for (const w of this.d.store.list()) if (w.events.includes(p.event)) this.enqueue(w, p);
    this.schedule();
  }

  private enqueue(w: WebhookRow, p: WebhookPayload): Delivery {
    return this.d.store.addDelivery({ webhookId: w.id, event: p.event, agent: p.agent, body: JSON.stringify(p) });
  }

  /** Arms the timer for the next due delivery (at once when one is due). */
  private schedule(): void {
    if (this.stopped) return;
    const next = this.d.store.nextDue();
    if (next === null) return;
    const at = Math.max(next, this.now());
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => { this.timer = null; this.timerAt = Infinity; this.pump(); }, Math.max(0, at - this.now()));
    this.timer.unref?.();
  }

  private pump(): void {
    if (this.stopped) return;
    const free = (this.d.concurrency ?? 4) - this.inFlight.size;
    if (free > 0) {
      for (const d of this.d.store.due(this.now(), free + this.inFlight.size).filter((x) => !this.inFlight.has(x.id)).slice(0, free)) {
        this.inFlight.add(d.id);
        const p = this.attempt(d).catch((e) => this.d.log.warn(null, 'webhook', `delivery #${d.id}: ${(e as Error).message}`))
          .finally(() => { this.inFlight.delete(d.id); this.sending.delete(p); this.schedule(); });
        this.sending.add(p);
      }
    }
    this.schedule();
  }

  /** One attempt: sign, post, record; a failure is retried later until the attempts run out. */
  private async attempt(d: Delivery): Promise<Delivery> {
    const w = this.d.store.get(d.webhookId);
    if (!w) return d;
    const started = this.now();
    let status: number | null = null;
    let error: string | null = null;
    try {
      const res = await (this.d.fetch ?? fetch)(w.url, {
        method: 'POST', body: d.body, redirect: 'manual', signal: AbortSignal.timeout(this.d.timeoutMs ?? 10_000),
        headers: {
          'content-type': 'application/json', 'user-agent': 'hyperhive-webhook', 'x-signature': signature(d.body, w.secret),
          'x-hyperhive-event': d.event, 'x-hyperhive-delivery': String(d.id),
        },
      });
      status = res.status;
      // Only the start of the answer is read (and kept, for the log): a receiver cannot make us buffer much.
      const text = await readStart(res, 300);
      if (res.status < 200 || res.status >= 300) error = `HTTP ${res.status}${res.status >= 300 && res.status < 400 ? ' (redirects are not followed)' : ''}${text ? `: ${text}` : ''}`;
    } catch (e) {
      const err = e as Error & { cause?: Error };
      error = err.name === 'TimeoutError' ? `no answer within ${this.d.timeoutMs ?? 10_000} ms` : (err.cause?.message ?? err.message);
    }
    const at = this.now();
    const attempt: Attempt = { at, status, error, ms: at - started };
    const n = d.attempts + 1;
    const outcome = !error ? { status: 'delivered' as const, nextAt: null }
      : n >= this.retry.attempts ? { status: 'failed' as const, nextAt: null }
      : { status: 'pending' as const, nextAt: at + retryDelay(n, this.retry) };
    const after = this.d.store.recordAttempt(d.id, attempt, outcome);
    if (outcome.status === 'failed') this.d.log.warn(d.agent, 'webhook-failed', `webhook #${w.id} (${d.event}) to ${w.url} failed after ${n} attempt(s): ${error}`, { webhook: w.id, delivery: d.id });
    else if (error) this.d.log.info(d.agent, 'webhook-retry', `webhook #${w.id} (${d.event}) attempt ${n} failed (${error}); retrying in ${retryDelay(n, this.retry)} ms`, { webhook: w.id, delivery: d.id });
    return after;
  }
}

async function readStart(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  let got = '';
  const dec = new TextDecoder();
  try {
    while (got.length < max) {
      const { done, value } = await reader.read();
      if (done) break;
      got += dec.decode(value, { stream: true });
    }
  } catch { /* what came is enough */ } finally { void reader.cancel().catch(() => {}); }
  return got.slice(0, max).replace(/\s+/g, ' ').trim();
}
