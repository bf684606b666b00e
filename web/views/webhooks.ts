import { WEBHOOK_EVENTS, type Delivery, type Webhook } from '../../controller/webhooks/store.ts';
import { age, html, isoTime, type SafeHtml } from './html.ts';
import { csrfField, layout, type Flash } from './layout.ts';

export interface WebhooksPageData {
  now: number;
  csrf: string | null;
  identity: string;
  flash?: Flash[];
  hooks: { hook: Webhook; deliveries: Delivery[] }[];
}

const EVENT_HELP: Record<string, string> = {
  'request.created': 'a change, spawn or other request is raised',
  'request.decided': 'a request is approved, rejected, fails or expires',
  'tool.waiting': 'a tool call waits for an operator',
  'agent.stalled': 'an agent becomes Stalled (auth, stuck, missing CLI, …)',
  'container.crashed': "an agent's runtime crashed",
  test: 'only the send-test button',
};

function deliveryRow(d: Delivery, now: number): SafeHtml {
  const last = d.log.at(-1);
  return html`<tr data-delivery="${d.id}" data-status="${d.status}">
<td><time datetime="${isoTime(d.createdAt)}">${age(d.createdAt, now)}</time></td>
<td><code>${d.event}</code>${d.agent ? html` <span class="hh-muted">${d.agent}</span>` : ''}</td>
<td><span class="hh-status hh-delivery-${d.status}" data-testid="delivery-status">${d.status}</span></td>
<td>${d.attempts}</td>
<td class="hh-wrap" data-testid="delivery-result">${last ? (last.error ? html`<span class="hh-del">${last.error}</span>` : html`HTTP ${last.status} in ${last.ms} ms`) : html`<span class="hh-muted">not sent yet</span>`}${d.status === 'pending' && d.nextAt && d.attempts ? html` <span class="hh-muted">· retry <time datetime="${isoTime(d.nextAt)}">${d.nextAt > now ? `in ${Math.ceil((d.nextAt - now) / 1000)}s` : 'now'}</time></span>` : ''}</td>
</tr>`;
}

function hookSection(h: { hook: Webhook; deliveries: Delivery[] }, d: WebhooksPageData): SafeHtml {
  const w = h.hook;
  return html`<section class="hh-section hh-webhook" id="webhook-${w.id}" data-live data-webhook="${w.id}">
<h2>Webhook #${w.id}</h2>
<p class="hh-wrap"><code>${w.url}</code></p>
<p>${w.events.map((e) => html`<span class="hh-tag">${e}</span> `)}<span class="hh-muted">added by ${w.createdBy}, <time datetime="${isoTime(w.createdAt)}">${age(w.createdAt, d.now)}</time></span></p>
<div class="hh-actions">
<form method="post" action="/webhooks/${w.id}/test">${csrfField(d.csrf)}<button type="submit" data-testid="send-test">Send test</button></form>
<form method="post" action="/webhooks/${w.id}/delete" data-confirm="Delete webhook #${w.id} and its delivery log?">${csrfField(d.csrf)}<button type="submit" class="hh-reject">Delete</button></form>
</div>
<h3>Deliveries <span class="hh-count">${h.deliveries.length}</span></h3>
${h.deliveries.length ? html`<div class="hh-scroll"><table class="hh-table hh-deliveries" data-testid="deliveries"><thead><tr><th>when</th><th>event</th><th>status</th><th>attempts</th><th>last attempt</th></tr></thead>
<tbody>${h.deliveries.map((x) => deliveryRow(x, d.now))}</tbody></table></div>` : html`<p class="hh-muted">Nothing sent yet.</p>`}
</section>`;
}

export function webhooksPage(d: WebhooksPageData): SafeHtml {
  return layout({
    title: 'Webhooks', page: 'webhooks', csrf: d.csrf, identity: d.identity, flash: d.flash, live: true,
    body: html`<h1>Webhooks</h1>
<p class="hh-muted">Signed JSON posts to receivers you configure: <code>{event, agent, at, url, data}</code> with <code>X-Signature: sha256=&lt;hex HMAC-SHA256 of the raw body&gt;</code> (as Flux's generic-hmac provider signs), retried with backoff.</p>
<section class="hh-section">
<h2>Add a webhook</h2>
<form method="post" action="/webhooks" id="add-webhook" class="hh-form">${csrfField(d.csrf)}
<label for="webhook-url">Receiver URL</label><input id="webhook-url" name="url" type="url" required maxlength="2000" placeholder="https://example.com/hooks/hyperhive">
<label for="webhook-secret">Secret (the HMAC key)</label><input id="webhook-secret" name="secret" type="password" required minlength="8" maxlength="1000" autocomplete="new-password">
<fieldset><legend>Events</legend>${WEBHOOK_EVENTS.filter((e) => e !== 'test').map((e) => html`<label class="hh-check"><input type="checkbox" name="event" value="${e}" checked> <code>${e}</code> <span class="hh-muted">${EVENT_HELP[e]}</span></label>`)}</fieldset>
<button type="submit">Add webhook</button>
</form>
</section>
${d.hooks.length ? d.hooks.map((h) => hookSection(h, d)) : html`<p class="hh-muted">No webhooks yet.</p>`}`,
  });
}
