import Router from '@koa/router';
import { HyperhiveError } from '../../../controller/errors.ts';
import { readJson } from '../../body.ts';
import { inboxPage, type InboxMessage } from '../../views/inbox.ts';
import { answerOperatorMessage } from '../bus.ts';
import { idParam, intValue } from '../../params.ts';
import { html, OPERATOR, requireBus, sessionOf, who, type PageContext } from './context.ts';
import { takeFlash } from './flash.ts';
import { formAction } from './form-action.ts';

/**
 * `/inbox`, the operator's messages. Plain forms with post/redirect/get, so the inbox works without the
 * browser script; the script sends the same actions to /api/inbox/… and updates the page in place.
 */
export function inboxRouter(d: PageContext): Router {
  const r = new Router();

  r.get('/inbox', ...d.guard, (ctx) => {
    const s = sessionOf(ctx);
    const base = { now: d.now(), csrf: s?.csrf ?? null, identity: who(ctx).name, flash: takeFlash(ctx) };
    if (!d.bus) { html(ctx, inboxPage({ ...base, messages: [], unread: 0, available: false })); return; }
    // The newest 200, plus every unread one even if older, so nothing waiting is hidden.
    const byId = new Map<number, InboxMessage>();
    for (const m of d.bus.list({ recipient: OPERATOR, limit: 200 })) byId.set(m.id, m);
    for (const m of d.bus.list({ recipient: OPERATOR, unacked: true, limit: 1000 })) byId.set(m.id, m);
    html(ctx, inboxPage({ ...base, messages: [...byId.values()], unread: d.bus.depth(OPERATOR), available: true }));
  });

  r.post('/inbox/ack', ...d.guard, async (ctx) => {
    const bus = requireBus(d);
    const form = await readJson(ctx);
    await formAction(ctx, { to: '/inbox' }, () => {
      // The form names the newest message it showed, so one that arrived meanwhile stays unread.
      const upTo = form.upTo === undefined || form.upTo === '' ? Number.MAX_SAFE_INTEGER : intValue(form.upTo, 'upTo', { unit: 'a message id' });
      const n = bus.ack(OPERATOR, upTo);
      return `${n} message${n === 1 ? '' : 's'} marked read`;
    });
  });

  r.post('/inbox/:id/answer', ...d.guard, async (ctx) => {
    const bus = requireBus(d);
    const id = idParam(ctx.params.id, 'message id');
    const q = bus.get(id);
    if (!q || q.to !== OPERATOR) throw new HyperhiveError('not_found', `no message #${id} in the operator's inbox`);
    const form = await readJson(ctx);
    await formAction(ctx, { to: `/inbox#msg-${id}`, refusedPrefix: 'Answer refused: ' }, () => {
      answerOperatorMessage(d.controller, bus as never, id, typeof form.body === 'string' ? form.body : '');
      return `answer sent to ${q.from}`;
    });
  });

  return r;
}
