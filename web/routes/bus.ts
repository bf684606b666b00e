import Router from '@koa/router';
import type { Bus, BusMessage } from '../../controller/bus/index.ts';
import type { Controller } from '../../controller/controller.ts';
import { HyperhiveError } from '../../controller/errors.ts';
import { assertCan } from '../../controller/lifecycle.ts';
import { requireOperator, type AuthOptions } from '../auth.ts';
import { readJson } from '../body.ts';
import { idParam, intQuery } from '../params.ts';

export interface BusRoutesOptions {
  controller: Controller;
  bus: Bus;
  auth: AuthOptions;
}

const OPERATOR = 'operator';

function bodyText(v: unknown): string {
  if (typeof v !== 'string') throw new HyperhiveError('bad_request', 'field "body" is required: the message text');
  if (!v.trim()) throw new HyperhiveError('bad_request', 'field "body" is empty: write a message');
  return v;
}

/**
 * Answers message #id of the operator's inbox: the answer goes to its sender (kind `answer`), and the
 * inbox is read up to it. The API and the inbox page both answer through this one function.
 */
export function answerOperatorMessage(c: Controller, bus: Bus, id: number, text: string) {
  const q = bus.get(id);
  if (!q || q.to !== OPERATOR) throw new HyperhiveError('not_found', `no message #${id} in the operator's inbox`);
  if (q.from === 'system' || q.from === OPERATOR) throw new HyperhiveError('bad_request', `message #${id} is from ${q.from}, which reads no answers`);
  const rec = c.findAgent(q.from);
  if (!rec) throw new HyperhiveError('conflict', `agent ${q.from} no longer exists: nobody to answer`);
  assertCan(rec, 'answer');
  if (typeof text !== 'string' || !text.trim()) throw new HyperhiveError('bad_request', 'the answer is empty: write a message');
  const answer = bus.send({ from: OPERATOR, to: q.from, kind: 'answer', body: `(answer to your message #${id}) ${text}` });
  bus.ack(OPERATOR, id);
  return answer;
}

/**
 * Operator routes of the bus: the operator's inbox, answering a question, messaging an agent, and
 * inbox depths for the dashboard. All operator-only (bearer token, or the UI session with CSRF).
 */
export function busRouter(o: BusRoutesOptions): Router {
  const { controller: c, bus } = o;
  const r = new Router({ prefix: '/api' });
  const op = requireOperator(o.auth);

  // The operator's messages, oldest first: ?unread=1 only un-acked ones, ?since=<id> after a cursor, ?limit=N.
  r.get('/inbox', op, (ctx) => {
    const since = intQuery(ctx, 'since', { unit: 'a message id' });
    const limit = intQuery(ctx, 'limit', { min: 1, max: 1000 });
    const unread = ctx.query.unread === '1' || ctx.query.unread === 'true';
    ctx.body = bus.list({ recipient: OPERATOR, since, limit, unacked: unread || undefined });
  });

  // Un-acked messages per mailbox: every agent (0 when none), the operator, and any other recipient with some.
  r.get('/inbox/depths', op, (ctx) => {
    const out: Record<string, number> = { [OPERATOR]: 0 };
    for (const a of c.agentRecords()) out[a.name] = 0;
    Object.assign(out, bus.depths());
    ctx.body = out;
  });

  // Marks the operator's messages read: every one up to upTo (default: all).
  r.post('/inbox/ack', op, async (ctx) => {
    const body = await readJson(ctx);
    const upTo = body.upTo === undefined ? Number.MAX_SAFE_INTEGER : body.upTo;
    if (typeof upTo !== 'number' || !Number.isInteger(upTo) || upTo < 0) throw new HyperhiveError('bad_request', `field "upTo" must be a message id (a non-negative integer), got ${JSON.stringify(upTo)}`);
    ctx.body = { acked: bus.ack(OPERATOR, upTo), depth: bus.depth(OPERATOR) };
  });

  // Answers a message of the operator's inbox: the answer goes to its sender, and the inbox is read up to it.
  r.post('/inbox/:id/answer', op, async (ctx) => {
    const id = idParam(ctx.params.id, 'message id');
    const answer = answerOperatorMessage(c, bus, id, bodyText((await readJson(ctx)).body));
    ctx.status = 201;
    ctx.body = answer;
  });

  // Operator → agent.
  r.post('/agents/:name/messages', op, async (ctx) => {
    const name = ctx.params.name!;
    const rec = c.requireAgent(name);
    assertCan(rec, 'receive-messages');
    const text = bodyText((await readJson(ctx)).body);
    ctx.status = 201;
    ctx.body = bus.send({ from: OPERATOR, to: name, body: text });
  });

  // An agent's conversation for its page: messages to it and from it, oldest first.
  r.get('/agents/:name/messages', op, (ctx) => {
    const name = ctx.params.name!;
    c.requireAgent(name);
    const since = intQuery(ctx, 'since', { unit: 'a message id' });
    const limit = intQuery(ctx, 'limit', { min: 1, max: 1000 }) ?? 100;
    const merged = new Map<number, BusMessage>();
    for (const m of bus.list({ recipient: name, since, limit })) merged.set(m.id, m);
    for (const m of bus.list({ from: name, since, limit })) merged.set(m.id, m);
    const all = [...merged.values()].sort((a, b) => a.id - b.id);
    ctx.body = since === undefined ? all.slice(-limit) : all.slice(0, limit);
  });

  return r;
}
