import type { OperatorView } from '../../controller/operators/service.ts';
import type { PolicyStatus } from '../../controller/approvals/policy-file.ts';
import { age, html, isoTime, type SafeHtml } from './html.ts';
import { csrfField, layout, type Flash } from './layout.ts';

/** An operator as the operators page and GET /api/operators show it: with who is logged in now. */
export interface OperatorRow extends OperatorView { sessions: number; lastSeen: number | null }

export interface OperatorsPageData {
  now: number;
  csrf: string | null;
  identity: string;
  flash?: Flash[];
  operators: OperatorRow[];
  policy: PolicyStatus;
  /** Just added: the new operator's token, shown this once. */
  added?: { name: string; token: string } | null;
}

function policySection(p: PolicyStatus): SafeHtml {
  const rules = p.rules.quorum;
  return html`<section class="hh-section" id="policy" data-live>
<h2>Quorum rules <span class="hh-count">${rules.length}</span></h2>
<p class="hh-muted">From <code>${p.file}</code>${p.present ? (p.loadedAt ? html`, loaded <time datetime="${isoTime(p.loadedAt)}">${age(p.loadedAt, Date.now())}</time>` : '') : ': no such file, so one operator\'s approval decides every request'}.</p>
${p.error ? html`<div class="hh-config-failed" role="alert" data-testid="policy-error"><strong>The file on disk is refused:</strong> <code>${p.error}</code> The last good rules below stay in force.</div>` : ''}
${rules.length ? html`<div class="hh-scroll"><table class="hh-table hh-rules" data-testid="quorum-rules"><thead><tr><th>agent</th><th>paths</th><th>approvals</th></tr></thead><tbody>
${rules.map((r) => html`<tr><td>${r.agent === '*' ? html`<em>every agent</em>` : html`<a href="/agents/${r.agent}">${r.agent}</a>`}</td><td>${r.paths.length ? r.paths.map((x, i) => html`${i ? ', ' : ''}<code>${x}</code>`) : html`<em>any change</em>`}</td><td>${r.approvals} distinct operators</td></tr>`)}
</tbody></table></div>` : ''}
<p class="hh-help hh-muted">A request needs the largest number of the rules that apply to it (tool-use requests: one). The same operator twice counts once; a new push raises a new request and starts the count again; under a quorum above one, the proposer's own approval does not count.</p>
</section>`;
}

export function operatorsPage(d: OperatorsPageData): SafeHtml {
  return layout({
    title: 'Operators', page: 'operators', csrf: d.csrf, identity: d.identity, flash: d.flash, live: true,
    body: html`<h1>Operators</h1>
${d.added ? html`<section class="hh-section hh-token-once" role="status" data-testid="new-token">
<p>Operator <strong>${d.added.name}</strong> added. Its token, shown this once (nothing keeps it but its hash):</p>
<pre class="hh-token"><code>${d.added.token}</code></pre>
<p class="hh-muted">Log in with it, or put it in a file of mode 0600 for the CLI (<code>--url</code> and the token) and scripts (<code>Authorization: Bearer …</code>).</p>
</section>` : ''}
<section class="hh-section" id="operators" data-live>
<h2>Operators <span class="hh-count">${d.operators.length}</span></h2>
<div class="hh-scroll"><table class="hh-table hh-operators"><thead><tr><th>name</th><th>logged in</th><th>added</th><th></th></tr></thead><tbody>
${d.operators.map((o) => html`<tr data-operator="${o.name}">
<td><strong>${o.name}</strong>${o.first ? html` <span class="hh-tag" title="token in operator.token">first</span>` : ''}${o.name === d.identity ? html` <span class="hh-tag">you</span>` : ''}</td>
<td data-testid="sessions">${o.sessions ? html`yes (${o.sessions} session${o.sessions > 1 ? 's' : ''}, seen <time datetime="${isoTime(o.lastSeen)}">${age(o.lastSeen, d.now)}</time>)` : html`<span class="hh-muted">no</span>`}</td>
<td>${o.createdAt ? html`by ${o.createdBy}, <time datetime="${isoTime(o.createdAt)}">${age(o.createdAt, d.now)}</time>` : html`<span class="hh-muted">with the state dir</span>`}</td>
<td>${o.first ? '' : html`<form method="post" action="/operators/${o.name}/revoke" data-confirm="Revoke ${o.name}? Its token stops working and its sessions end now.">${csrfField(d.csrf)}<button type="submit" class="hh-reject" data-testid="revoke-${o.name}">Revoke</button></form>`}</td>
</tr>`)}
</tbody></table></div>
<form method="post" action="/operators" class="hh-inline-form" id="add-operator">${csrfField(d.csrf)}
<label for="new-operator-name">New operator</label>
<input id="new-operator-name" name="name" required pattern="[a-z][a-z0-9-]{0,31}" maxlength="32" placeholder="name (a-z, 0-9, -)" autocomplete="off">
<button type="submit">Add operator</button></form>
<p class="hh-help hh-muted">Each operator has a token of its own: approvals, rejections, tool decisions and the commits they make carry that name. CLI: <code>hyperhive operator add NAME</code>, <code>operator list</code>, <code>operator revoke NAME</code>.</p>
</section>
${policySection(d.policy)}`,
  });
}
