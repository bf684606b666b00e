import { age, html, isoTime, type SafeHtml } from './html.ts';
import { csrfField, layout, type Flash } from './layout.ts';

/** A message of the operator's inbox as the page shows it (structurally the bus's BusMessage). */
export interface InboxMessage {
  id: number;
  from: string;
  kind: string;
  body: string;
  createdAt: number;
  ackedAt: number | null;
}

export interface InboxData {
  now: number;
  csrf: string | null;
  identity: string;
  flash?: Flash[];
  /** The operator's messages, any order: the page puts unread ones first, newest first within each group. */
  messages: InboxMessage[];
  /** Unread messages in the operator's mailbox (may exceed the unread ones listed). */
  unread: number;
  /** False where no bus is wired into the controller: the page says so instead of listing. */
  available: boolean;
}

/** Mailboxes that read no answers: the controller's own events, and the operator itself. */
const NO_ANSWER = new Set(['system', 'operator']);
export const answerable = (m: Pick<InboxMessage, 'from'>): boolean => !NO_ANSWER.has(m.from);

/** Unread first, then newest first; the order an operator works through an inbox. */
export function inboxOrder(messages: InboxMessage[]): InboxMessage[] {
  return [...messages].sort((a, b) => (a.ackedAt === null ? 0 : 1) - (b.ackedAt === null ? 0 : 1) || b.id - a.id);
}

export function inboxMessage(m: InboxMessage, now: number, csrf: string | null): SafeHtml {
  const unread = m.ackedAt === null;
  return html`<li class="hh-msg hh-msg-${unread ? 'unread' : 'read'}${m.kind === 'question' ? ' hh-msg-question' : ''}" id="msg-${m.id}" data-message-id="${m.id}" data-unread="${unread ? '1' : '0'}">
<div class="hh-msg-head"><strong class="hh-msg-from">${m.from}</strong> <span class="hh-tag hh-msg-kind">${m.kind}</span> <span class="hh-muted">#${m.id}, <time datetime="${isoTime(m.createdAt)}" title="${isoTime(m.createdAt)}">${age(m.createdAt, now)}</time></span> <span class="hh-msg-state">${unread ? 'unread' : 'read'}</span></div>
<div class="hh-msg-body">${m.body}</div>
${answerable(m) ? html`<form class="hh-answer" method="post" action="/inbox/${m.id}/answer" data-api="/api/inbox/${m.id}/answer" data-testid="answer-form">
${csrfField(csrf)}
<label class="hh-label" for="answer-${m.id}">Answer ${m.from}</label>
<textarea id="answer-${m.id}" name="body" rows="2" required maxlength="60000" placeholder="Your answer goes to ${m.from}'s mailbox"></textarea>
<button type="submit">Send answer</button> <span class="hh-answer-status" role="status"></span>
</form>` : ''}
</li>`;
}

export function inboxPage(d: InboxData): SafeHtml {
  const ordered = inboxOrder(d.messages);
  const newest = d.messages.reduce((n, m) => Math.max(n, m.id), 0);
  return layout({
    title: 'Inbox', page: 'inbox', csrf: d.csrf, identity: d.identity, flash: d.flash, live: true, inboxUnread: d.available ? d.unread : null,
    body: d.available ? html`<section class="hh-section" id="inbox" data-live>
<h1>Inbox <span class="hh-count" data-testid="inbox-unread">${d.unread} unread</span></h1>
<p class="hh-meta">Messages to the operator from the manager, agents and the controller. An answer goes to the sender's mailbox and marks the inbox read up to the message answered.</p>
${d.unread > 0 ? html`<form class="hh-inline-form" method="post" action="/inbox/ack" data-api="/api/inbox/ack" id="ack-all">
${csrfField(d.csrf)}<input type="hidden" name="upTo" value="${newest}">
<button type="submit" data-testid="mark-all-read">Mark all read</button>
</form>` : ''}
${ordered.length ? html`<ol class="hh-inbox">${ordered.map((m) => inboxMessage(m, d.now, d.csrf))}</ol>` : html`<p class="hh-muted">No messages.</p>`}
</section>` : html`<section class="hh-section" id="inbox"><h1>Inbox</h1><p class="hh-muted">Messaging is not available: no bus is wired into this controller.</p></section>`,
  });
}
