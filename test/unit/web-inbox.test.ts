import test from 'ava';
import type { Approval } from '../../controller/approvals/store.ts';
import type { AgentView } from '../../controller/controller.ts';
import { dashboardPage } from '../../web/views/dashboard.ts';
import { answerable, inboxMessage, inboxOrder, inboxPage, type InboxMessage } from '../../web/views/inbox.ts';
import { inboxLink, layout } from '../../web/views/layout.ts';
import { html } from '../../web/views/html.ts';

const XSS = '<script>alert(1)</script>"\'`&';

const msg = (over: Partial<InboxMessage> = {}): InboxMessage => ({ id: 1, from: 'manager', kind: 'question', body: 'ok?', createdAt: 60_000, ackedAt: null, ...over });

const agent = (over: Partial<AgentView> = {}): AgentView => ({
  name: 'drafty', state: 'draft', applied: 'a'.repeat(40), proposed: 'b'.repeat(40), live: 'c'.repeat(40), model: null,
  conditions: [], runtime: { state: 'none', revision: null, isolated: false, pid: null, startedAt: null, restarts: 0, note: '', kind: 'process' },
  suspended: false, kept: false, lastAppliedRevision: null, lastAttemptedRevision: null, history: [], createdAt: 60_000, createdBy: 'manager',
  ...over,
} as AgentView);

test('a message renders escaped: body, sender, kind; its state and id are marked', (t) => {
  const out = inboxMessage(msg({ id: 7, from: 'manager', kind: 'question', body: `line one\n${XSS}` }), 120_000, 'tok').value;
  t.regex(out, /id="msg-7" data-message-id="7" data-unread="1"/);
  t.regex(out, /hh-msg-unread hh-msg-question/);
  t.regex(out, /<div class="hh-msg-body">line one\n&lt;script&gt;alert\(1\)&lt;\/script&gt;&quot;&#39;&#96;&amp;<\/div>/);
  t.regex(out, /<strong class="hh-msg-from">manager<\/strong> <span class="hh-tag hh-msg-kind">question<\/span>/);
  t.regex(out, /#7, <time datetime="1970-01-01T00:01:00.000Z"[^>]*>1m ago<\/time>/);
  t.regex(out, /class="hh-msg-state">unread</);
  t.notRegex(out, /<script>/);
  const read = inboxMessage(msg({ ackedAt: 90_000 }), 120_000, 'tok').value;
  t.regex(read, /data-unread="0"/);
  t.regex(read, /class="hh-msg-state">read</);
});

test('an answer form with the CSRF token for agents, none for system (or operator) messages', (t) => {
  const fromManager = inboxMessage(msg({ id: 3 }), 0, 'tok<"').value;
  t.regex(fromManager, /<form class="hh-answer" method="post" action="\/inbox\/3\/answer" data-api="\/api\/inbox\/3\/answer"/);
  t.regex(fromManager, /name="_csrf" value="tok&lt;&quot;"/);
  t.regex(fromManager, /<textarea id="answer-3" name="body"/);
  const fromSystem = inboxMessage(msg({ id: 4, from: 'system', kind: 'event' }), 0, 'tok').value;
  t.notRegex(fromSystem, /<form|textarea/);
  t.false(answerable({ from: 'system' }));
  t.false(answerable({ from: 'operator' }));
  t.true(answerable({ from: 'worker-1' }));
  const evilSender = inboxMessage(msg({ from: '"><img src=x onerror=alert(1)>' }), 0, 'tok').value;
  t.notRegex(evilSender, /<img/);
});

test('inbox order: unread first, newest first within each group', (t) => {
  const ordered = inboxOrder([msg({ id: 1 }), msg({ id: 2, ackedAt: 5 }), msg({ id: 3 }), msg({ id: 4, ackedAt: 5 })]);
  t.deepEqual(ordered.map((m) => m.id), [3, 1, 4, 2]);
});

test('inbox page: unread count, mark-all-read up to the newest shown, header badge, no-bus notice', (t) => {
  const page = inboxPage({ now: 0, csrf: 'tok', identity: 'operator', unread: 2, available: true, messages: [msg({ id: 5 }), msg({ id: 9, from: 'worker' }), msg({ id: 2, ackedAt: 1 })] }).value;
  t.regex(page, /data-testid="inbox-unread">2 unread</);
  t.regex(page, /<form class="hh-inline-form" method="post" action="\/inbox\/ack" data-api="\/api\/inbox\/ack" id="ack-all">/);
  t.regex(page, /name="upTo" value="9"/);
  t.regex(page, /id="inbox-badge" class="hh-badge" data-count="2" title="unread messages">2<\/span>/);
  t.true(page.indexOf('id="msg-9"') < page.indexOf('id="msg-5"') && page.indexOf('id="msg-5"') < page.indexOf('id="msg-2"'));
  t.regex(page, /<script src="\/assets\/inbox.js" defer><\/script>/);
  t.notRegex(page, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
  const allRead = inboxPage({ now: 0, csrf: 'tok', identity: 'operator', unread: 0, available: true, messages: [msg({ ackedAt: 1 })] }).value;
  t.notRegex(allRead, /id="ack-all"/);
  t.regex(allRead, /id="inbox-badge"[^>]*hidden>/);
  const empty = inboxPage({ now: 0, csrf: 'tok', identity: 'operator', unread: 0, available: true, messages: [] }).value;
  t.regex(empty, /No messages\./);
  const noBus = inboxPage({ now: 0, csrf: 'tok', identity: 'operator', unread: 0, available: false, messages: [] }).value;
  t.regex(noBus, /Messaging is not available/);
  t.regex(noBus, /data-count=""[^>]*hidden>/, 'count unknown: the badge waits for the script');
});

test('layout: inbox link and badge on every logged-in page; none on the login page', (t) => {
  t.regex(inboxLink(3).value, /<a href="\/inbox" id="inbox-link"[^>]*>Inbox <span id="inbox-badge" class="hh-badge" data-count="3" title="unread messages">3<\/span><\/a>/);
  t.regex(inboxLink(0).value, /data-count="0"[^>]*hidden>/);
  t.regex(inboxLink(null).value, /data-count=""[^>]*hidden><\/span>/);
  const page = layout({ title: 'x', page: 'x', identity: 'operator', csrf: 'tok', body: html`<p>hi</p>` }).value;
  t.regex(page, /id="inbox-badge"/);
  t.regex(page, /\/assets\/inbox.js/);
  const login = layout({ title: 'Log in', page: 'login', body: html`<p>hi</p>` }).value;
  t.notRegex(login, /inbox-badge|inbox\.js/);
});

test('dashboard: drafts with revision and creator, pending agents with their spawn request, operator badge', (t) => {
  const spawn = { id: 12, kind: 'spawn', agent: 'newbie', base: 'a'.repeat(40), head: 'd'.repeat(40), status: 'pending', paths: [], proposer: 'manager', createdAt: 90_000 } as unknown as Approval;
  const page = dashboardPage({
    now: 120_000, csrf: 'tok', identity: 'operator', agents: [], queue: [], log: [], operatorUnread: 4,
    drafts: [{ agent: agent({ name: 'drafty' }), proposed: { sha: 'b'.repeat(40), subject: `tune ${XSS}`, author: 'manager', date: 60_000, proposer: 'manager' } }, agent({ name: 'bare', createdBy: '<evil>' })],
    pending: [{ agent: agent({ name: 'newbie', state: 'pending' }), request: spawn }, { agent: agent({ name: 'refused', state: 'pending' }), request: null }],
  }).value;
  t.regex(page, /<section class="hh-section" id="drafts" data-live>/);
  t.regex(page, /<li data-draft="drafty"><a href="\/agents\/drafty"><strong>drafty<\/strong><\/a> <code class="hh-sha"[^>]*>bbbbbbbb<\/code> <span class="hh-subject">tune &lt;script&gt;/);
  t.regex(page, /created by manager, <time[^>]*>1m ago/);
  t.regex(page, /<li data-draft="bare">[\s\S]*created by &lt;evil&gt;/);
  t.regex(page, /the manager edits it, then turns one of its commits into a spawn request/i);
  t.regex(page, /<li data-pending="newbie">[\s\S]*<a href="\/approvals\/12" data-testid="spawn-request">spawn request #12<\/a> at <code[^>]*>dddddddd/);
  t.regex(page, /<li data-pending="refused">[\s\S]*no open request/);
  t.regex(page, /data-count="4"[^>]*>4<\/span>/);
  t.notRegex(page, /<script>|<evil>/);
  const none = dashboardPage({ now: 0, csrf: 'tok', identity: 'operator', agents: [], queue: [], log: [], drafts: [] }).value;
  t.regex(none, /id="drafts" data-live hidden>/);
  // The other sections are still there.
  for (const id of ['agents', 'queue', 'log', 'create-agent']) t.regex(none, new RegExp(`id="${id}"`), id);
});
