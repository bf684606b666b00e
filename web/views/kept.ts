import type { Approval } from '../../controller/approvals/store.ts';
import type { AgentView } from '../../controller/controller.ts';
import { humanBytes } from '../../controller/ops/lifecycle-deps.ts';
import { age, html, isoTime, shortSha, type SafeHtml } from './html.ts';
import { csrfField } from './layout.ts';

/** A destroyed agent whose repo and state are kept, with its open revive request if one waits. */
export interface KeptRow { agent: AgentView; revive: Approval | null }

function destroyedLine(a: AgentView, now: number): SafeHtml {
  const k = a.destroyed;
  if (!k) return html`<span class="hh-muted">destroyed (no record of when)</span>`;
  return html`destroyed <time datetime="${isoTime(k.at)}" data-testid="destroyed-at">${age(k.at, now)}</time> by <strong data-testid="destroyed-by">${k.by}</strong>${k.requestedBy ? html` <span class="hh-muted">(asked by ${k.requestedBy})</span>` : ''}${k.reason ? html` — <q>${k.reason}</q>` : ''}`;
}

/** Revive (raises a request) and purge (the name typed again, or nothing is deleted). */
function actions(r: KeptRow, csrf: string | null): SafeHtml {
  const n = r.agent.name;
  return html`<div class="hh-kept-actions">
${r.revive
    ? html`<a href="/approvals/${r.revive.id}" data-testid="revive-request">revive request #${r.revive.id} waits for approval</a>`
    : html`<form method="post" action="/agents/${n}/revive" class="hh-inline-form">${csrfField(csrf)}<button type="submit" data-testid="revive">Revive</button></form>`}
<form method="post" action="/agents/${n}/purge" class="hh-inline-form hh-purge">${csrfField(csrf)}
<label for="purge-${n}">Type <code>${n}</code> to purge</label>
<input id="purge-${n}" name="confirm" required autocomplete="off" placeholder="agent name" data-testid="purge-confirm">
<button type="submit" class="hh-reject" data-testid="purge">Purge</button></form>
</div>`;
}

function row(r: KeptRow, now: number, csrf: string | null): SafeHtml {
  const a = r.agent;
  const k = a.destroyed;
  return html`<tr data-kept="${a.name}">
<td><a href="/agents/${a.name}"><strong>${a.name}</strong></a></td>
<td>${destroyedLine(a, now)}</td>
<td data-testid="state-size">${k ? humanBytes(k.stateBytes) : '—'}</td>
<td><code class="hh-sha" title="${a.applied ?? ''}" data-testid="kept-applied">${shortSha(a.applied)}</code></td>
<td>${actions(r, csrf)}</td>
</tr>`;
}

/** The dashboard's kept-state section: agents taken down whose repo and state were kept. */
export function keptSection(rows: KeptRow[], now: number, csrf: string | null): SafeHtml {
  return html`<section class="hh-section" id="kept" data-live${rows.length ? '' : html` hidden`}>
<h2>Kept state <span class="hh-count">${rows.length}</span></h2>
${rows.length ? html`<table class="hh-table hh-kept">
<thead><tr><th>agent</th><th>destroyed</th><th>state</th><th>applied</th><th></th></tr></thead>
<tbody>${rows.map((r) => row(r, now, csrf))}</tbody></table>` : html`<p class="hh-muted">No kept agents.</p>`}
<p class="hh-help hh-muted">A destroyed agent does not run and its token works nowhere; its repo (every branch) and state dir are kept. Revive raises a request: on approval it starts at its applied revision with its state and a new token. Purge deletes repo and state for good (the log and audit trail stay).</p>
</section>`;
}

/** The agent page of a kept agent: what happened and what can be done. */
export function keptBanner(r: KeptRow, now: number, csrf: string | null): SafeHtml {
  const k = r.agent.destroyed;
  return html`<section class="hh-section hh-kept-banner" id="kept" data-testid="kept-banner">
<p role="status"><span class="hh-tag hh-tag-warn">kept</span> ${r.agent.name} ${destroyedLine(r.agent, now)}. Its repo and state${k ? html` (${humanBytes(k.stateBytes)})` : ''} are kept; it runs nothing and its token works nowhere.</p>
${actions(r, csrf)}
</section>`;
}

/** What a revive request shows: what will start (its applied revision, its config, its state's size). */
export function reviveRequestBody(a: Approval): SafeHtml {
  const d = a.data as { stateBytes?: number; destroyedAt?: number | null; destroyedBy?: string | null; surface?: string | null; files?: { path: string; size: number }[] };
  return html`<section class="hh-section" id="revive" data-testid="revive-details">
<h2>What will start</h2>
<p>${a.agent} at applied <code class="hh-sha" title="${a.head ?? ''}" data-testid="revive-head">${shortSha(a.head)}</code> with its state (<span data-testid="revive-state-size">${humanBytes(d.stateBytes ?? 0)}</span>) and a new token.${d.destroyedBy ? html` It was destroyed by ${d.destroyedBy}${d.destroyedAt ? html` on <time datetime="${isoTime(d.destroyedAt)}">${isoTime(d.destroyedAt)}</time>` : ''}.` : ''}</p>
${d.files?.length ? html`<h3>Config</h3><ul class="hh-files">${d.files.map((f) => html`<li><code>${f.path}</code> <span class="hh-muted">${humanBytes(f.size)}</span></li>`)}</ul>` : ''}
${d.surface ? html`<h3><code>hyperhive.json</code></h3><pre class="hh-pre" data-testid="revive-surface">${d.surface}</pre>` : ''}
</section>`;
}

/** What a destroy request shows: who asked, why, and what approving does. */
export function destroyRequestBody(a: Approval): SafeHtml {
  const d = a.data as { reason?: string | null; stateBytes?: number };
  return html`<section class="hh-section" id="destroy" data-testid="destroy-details">
<h2>Destroy ${a.agent}</h2>
<p>${a.proposer ?? 'someone'} asks to destroy ${a.agent}${d.reason ? html`: <q>${d.reason}</q>` : ''}. Approving stops its runtime and ends its token; its repo (applied <code class="hh-sha" title="${a.head ?? ''}">${shortSha(a.head)}</code>) and state (${humanBytes(d.stateBytes ?? 0)}) are kept, and it can be revived. Rejecting leaves it running.</p>
</section>`;
}

/** An agent page's destroy form (for an agent that is not kept): acts at once, keeps repo and state. */
export function destroySection(a: AgentView, csrf: string | null): SafeHtml {
  return html`<section class="hh-section" id="lifecycle">
<h2>Lifecycle</h2>
<form method="post" action="/agents/${a.name}/destroy" class="hh-inline-form" data-confirm="Destroy ${a.name}? It stops now and its token stops working; its repo and state are kept.">${csrfField(csrf)}
<label for="destroy-reason">Reason</label><input id="destroy-reason" name="reason" maxlength="2000" placeholder="why (optional)">
<button type="submit" class="hh-reject" data-testid="destroy">Destroy</button>
<span class="hh-muted">stops ${a.name} at once and ends its token; its repo and state are kept (revive or purge it later)</span></form>
</section>`;
}
