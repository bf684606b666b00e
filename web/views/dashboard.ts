import type { AgentView } from '../../controller/controller.ts';
import type { LogEntry } from '../../controller/log.ts';
import { approvalsTable, conditionBadges, logTable, modelChip, revisionCell, runtimeCell, type ApprovalRow, type RevisionInfo } from './components.ts';
import { age, html, isoTime, type SafeHtml } from './html.ts';
import { csrfField, layout, type Flash } from './layout.ts';

export interface DashboardAgent {
  agent: AgentView;
  applied: RevisionInfo | null;
  proposed: RevisionInfo | null;
  /** Unread messages for the agent; null where no bus is wired. */
  inboxDepth: number | null;
}

export interface DashboardData {
  now: number;
  csrf: string | null;
  identity: string;
  flash?: Flash[];
  agents: DashboardAgent[];
  /** Open requests, oldest first. */
  queue: ApprovalRow[];
  /** Agents in the draft state (repo only); empty until drafts exist. */
  drafts: AgentView[];
  log: LogEntry[];
}

function agentRow(r: DashboardAgent, now: number): SafeHtml {
  const a = r.agent;
  return html`<tr data-agent="${a.name}">
<td><a href="/agents/${a.name}"><strong>${a.name}</strong></a>${a.state !== 'active' ? html` <span class="hh-tag">${a.state}</span>` : ''}${a.suspended ? html` <span class="hh-tag hh-tag-warn">suspended</span>` : ''}</td>
<td>${conditionBadges(a.conditions)}</td>
<td class="hh-rev" data-rev="applied">${revisionCell(a.applied, r.applied, now)}</td>
<td class="hh-rev" data-rev="proposed">${a.proposed && a.proposed === a.applied ? html`<span class="hh-muted">= applied</span>` : revisionCell(a.proposed, r.proposed, now)}</td>
<td>${modelChip(a.model)}</td>
<td>${runtimeCell(a)}</td>
<td>${r.inboxDepth === null ? html`<span class="hh-muted">—</span>` : r.inboxDepth}</td>
</tr>`;
}

export function dashboardPage(d: DashboardData): SafeHtml {
  return layout({
    title: 'Dashboard', page: 'dashboard', csrf: d.csrf, identity: d.identity, flash: d.flash, live: true,
    body: html`<section class="hh-section" id="agents" data-live>
<h2>Agents <span class="hh-count">${d.agents.length}</span></h2>
${d.agents.length ? html`<table class="hh-table hh-agents">
<thead><tr><th>agent</th><th>conditions</th><th>applied</th><th>proposed</th><th>model</th><th>runtime</th><th>inbox</th></tr></thead>
<tbody>${d.agents.map((r) => agentRow(r, d.now))}</tbody></table>` : html`<p class="hh-muted">No agents yet. Create one below.</p>`}
</section>
<section class="hh-section">
<form class="hh-inline-form" method="post" action="/agents" id="create-agent">
${csrfField(d.csrf)}
<label for="new-agent-name">New agent</label>
<input id="new-agent-name" name="name" required pattern="[a-z][a-z0-9-]{0,31}" maxlength="32" placeholder="name (a-z, 0-9, -)" autocomplete="off">
<button type="submit">Create agent</button>
</form>
</section>
<section class="hh-section" id="queue" data-live>
<h2>Approval queue <span class="hh-count">${d.queue.length}</span></h2>
${approvalsTable(d.queue, d.now, { empty: 'No requests waiting.' })}
</section>
<section class="hh-section" id="drafts" data-live${d.drafts.length ? '' : html` hidden`}>
<h2>Drafts <span class="hh-count">${d.drafts.length}</span></h2>
<ul>${d.drafts.map((a) => html`<li><a href="/agents/${a.name}">${a.name}</a> <span class="hh-muted">by ${a.createdBy}, <time datetime="${isoTime(a.createdAt)}">${age(a.createdAt, d.now)}</time></span></li>`)}</ul>
</section>
<section class="hh-section" id="log" data-live>
<h2>Reconciliation log</h2>
${logTable(d.log, d.now)}
</section>`,
  });
}
