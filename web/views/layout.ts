import { html, type HtmlValue, type SafeHtml } from './html.ts';

export interface Flash { kind: 'ok' | 'error'; message: string }

export interface LayoutOptions {
  title: string;
  body: SafeHtml;
  /** The session's CSRF token: put in a meta tag for scripts and in every form. */
  csrf?: string | null;
  /** Who is logged in; null on the login page. */
  identity?: string | null;
  flash?: Flash[];
  /** Extra stylesheets (same origin only). */
  css?: string[];
  /** Names the page for the browser script (data-page on <body>). */
  page: string;
  /** Subscribe to /api/events and refresh [data-live] sections. */
  live?: boolean;
  /** The page is about one agent: live refreshes ignore events about others. */
  agent?: string;
  /** Unread messages for the operator, for the header's badge; null/absent: unknown here, the browser script asks. */
  inboxUnread?: number | null;
}

export function flashMessages(flash: Flash[] | undefined): SafeHtml {
  return html`<div id="flash" class="hh-flash-area" aria-live="polite">${(flash ?? []).map((f) => html`<p class="hh-flash hh-flash-${f.kind}" role="${f.kind === 'error' ? 'alert' : 'status'}">${f.message}</p>`)}</div>`;
}

/** The header's inbox link with its unread badge; /assets/inbox.js keeps the count live over SSE. */
export function inboxLink(unread: number | null | undefined): SafeHtml {
  const known = typeof unread === 'number';
  return html`<a href="/inbox" id="inbox-link" class="hh-inbox-link" data-testid="inbox-link">Inbox <span id="inbox-badge" class="hh-badge" data-count="${known ? unread : ''}" title="unread messages"${known && unread > 0 ? '' : html` hidden`}>${known ? unread : ''}</span></a>`;
}

export const csrfField = (csrf: string | null | undefined): HtmlValue => (csrf ? html`<input type="hidden" name="_csrf" value="${csrf}">` : '');

/** The page shell: no inline script or style anywhere (CSP `default-src 'self'`). */
export function layout(o: LayoutOptions): SafeHtml {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title} · hyperhive</title>
${o.csrf ? html`<meta name="csrf-token" content="${o.csrf}">` : ''}
<link rel="icon" href="/assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/assets/app.css">
${(o.css ?? []).map((href) => html`<link rel="stylesheet" href="${href}">`)}
<script src="/assets/app.js" defer></script>
${o.identity ? html`<script src="/assets/inbox.js" defer></script>` : ''}
</head>
<body data-page="${o.page}"${o.live ? html` data-live-events="/api/events"` : ''}${o.agent ? html` data-agent="${o.agent}"` : ''}>
<header class="hh-top">
<a class="hh-brand" href="/">hyperhive</a>
${o.identity ? html`<nav><a href="/">Dashboard</a> <a href="/fleet">Fleet</a> ${inboxLink(o.inboxUnread)} <a href="/operators">Operators</a> <a href="/webhooks">Webhooks</a></nav>
<span class="hh-live-dot" id="live-status" title="live updates">●</span>
<form class="hh-logout" method="post" action="/logout">${csrfField(o.csrf)}<span class="hh-muted" data-testid="whoami" title="logged in as">${o.identity}</span> <button type="submit" class="hh-link">Log out</button></form>` : ''}
</header>
<main>
${flashMessages(o.flash)}
${o.body}
</main>
</body>
</html>
`;
}
