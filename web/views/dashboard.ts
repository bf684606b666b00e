import type { Approval } from '../../controller/approvals/store.ts';
import type { AgentView } from '../../controller/controller.ts';
import type { LogEntry } from '../../controller/log.ts';
import { approvalsTable, conditionBadges, logTable, modelChip, revisionCell, runtimeCell, type ApprovalRow, type RevisionInfo } from './components.ts';
import { age, html, isoTime, shortSha, type SafeHtml } from './html.ts';
import { csrfField, layout, type Flash } from './layout.ts';
import { keptSection, type KeptRow } from './kept.ts';
import { runtimeSection } from './runtime-health.ts';
import type { RuntimeHealth } from '../../controller/runtime/types.ts';
import type { ApprovalKind } from '../../controller/approvals/store.ts';
import { isFiltered } from '../../controller/agents/query.ts';
import { bulkBar, fleetCounts, fleetFilterForm, fleetPager, queueControls, rowCheckbox, type FleetListing, type QueueQuery } from './fleet-controls.ts';

export interface DashboardAgent {
  agent: AgentView;
  applied: RevisionInfo | null;
  proposed: RevisionInfo | null;
  /** Unread messages for the agent; null where no bus is wired. */
  inboxDepth: number | null;
}

/** A draft (repo only) with the tip of its proposed branch, which a spawn request would name. */
export interface DraftRow { agent: AgentView; proposed: RevisionInfo | null }

/** A pending agent with the open spawn (or revive) request it waits for; null when none is open (rejected). */
export interface PendingRow { agent: AgentView; request: Approval | null }

export interface DashboardData {
  now: number;
  csrf: string | null;
  identity: string;
  flash?: Flash[];
  agents: DashboardAgent[];
  /** Open requests, oldest first. */
  queue: ApprovalRow[];
  /** Agents in the draft state (repo only), bare or with their proposed revision. */
  drafts: (AgentView | DraftRow)[];
  /** Agents waiting for their spawn request. */
  pending?: PendingRow[];
  /** Destroyed agents whose repo and state are kept. */
  kept?: KeptRow[];
  /** Unread messages for the operator (header badge); null or absent where no bus is wired. */
  operatorUnread?: number | null;
  log: LogEntry[];
  /** The runtime and its watcher's health (the nspawn runtime's D-Bus connection). */
  runtime?: RuntimeHealth;
  /** The page of agents shown (its query, matches, the fleet's counts): counts, filter, pager and bulk controls. */
  listing?: FleetListing;
  /** The queue's order and kind filter, with the open requests per kind. */
  queueQuery?: QueueQuery;
  queueKinds?: Partial<Record<ApprovalKind, number>>;
}

const asDraftRow = (d: AgentView | DraftRow): DraftRow => ('agent' in d ? d : { agent: d, proposed: null });

function draftItem(r: DraftRow, now: number): SafeHtml {
  const a = r.agent;
  const sha = a.proposed ?? a.applied;
  return html`<li data-draft="${a.name}"><a href="/agents/${a.name}"><strong>${a.name}</strong></a> ${sha ? html`<code class="hh-sha" title="${sha}">${shortSha(sha)}</code>` : html`<span class="hh-muted">no revision</span>`}${r.proposed ? html` <span class="hh-subject">${r.proposed.subject}</span>` : ''} <span class="hh-muted">created by ${a.createdBy}, <time datetime="${isoTime(a.createdAt)}">${age(a.createdAt, now)}</time></span></li>`;
}

function pendingItem(r: PendingRow, now: number): SafeHtml {
  const a = r.agent;
  return html`<li data-pending="${a.name}"><a href="/agents/${a.name}"><strong>${a.name}</strong></a> ${r.request
    ? html`waits for <a href="/approvals/${r.request.id}" data-testid="spawn-request">${r.request.kind} request #${r.request.id}</a>${r.request.head ? html` at <code class="hh-sha" title="${r.request.head}">${shortSha(r.request.head)}</code>` : ''} <span class="hh-muted">by ${r.request.proposer ?? 'unknown'}, <time datetime="${isoTime(r.request.createdAt)}">${age(r.request.createdAt, now)}</time></span>`
    : html`<span class="hh-muted">no open request (the last one was decided); the manager may ask again</span>`}</li>`;
}

function draftsSection(d: DashboardData): SafeHtml {
  const drafts = d.drafts.map(asDraftRow);
  const pending = d.pending ?? [];
  return html`<section class="hh-section" id="drafts" data-live${drafts.length || pending.length ? '' : html` hidden`}>
<h2>Drafts <span class="hh-count">${drafts.length}</span></h2>
${drafts.length ? html`<ul class="hh-drafts">${drafts.map((r) => draftItem(r, d.now))}</ul>` : html`<p class="hh-muted">No drafts.</p>`}
<p class="hh-help hh-muted">A draft is a repo only: it neither runs nor raises requests. The manager edits it, then turns one of its commits into a spawn request, which appears in the approval queue.</p>
${pending.length ? html`<h3>Waiting for approval <span class="hh-count">${pending.length}</span></h3>
<ul class="hh-pending">${pending.map((r) => pendingItem(r, d.now))}</ul>` : ''}
</section>`;
}

// A row is a function of its view (a new object whenever anything it shows changed: AgentViews), the
// revisions' summaries with their ages, the inbox depth and the checkbox: the markup of a row whose
// inputs are all the same is the same string. The dashboard renders 50 rows on every request.
const rows = new WeakMap<AgentView, { key: string; html: SafeHtml }>();
const revKey = (info: RevisionInfo | null, now: number): string => (info ? `${info.sha}\u0001${info.subject}\u0001${info.proposer}\u0001${info.author}\u0001${info.date}\u0001${age(info.date, now)}` : '');

function agentRow(r: DashboardAgent, now: number, select: boolean): SafeHtml {
  const key = `${select ? 1 : 0}\u0002${r.inboxDepth}\u0002${revKey(r.applied, now)}\u0002${revKey(r.proposed, now)}`;
  const hit = rows.get(r.agent);
  if (hit && hit.key === key) return hit.html;
  const out = renderRow(r, now, select);
  rows.set(r.agent, { key, html: out });
  return out;
}

function renderRow(r: DashboardAgent, now: number, select: boolean): SafeHtml {
  const a = r.agent;
  return html`<tr data-agent="${a.name}">
${select ? html`<td class="hh-select">${rowCheckbox(a.name)}</td>` : ''}<td><a href="/agents/${a.name}"><strong>${a.name}</strong></a>${a.state !== 'active' ? html` <span class="hh-tag">${a.state}</span>` : ''}${a.suspended ? html` <span class="hh-tag hh-tag-warn">suspended</span>` : ''}</td>
<td>${conditionBadges(a.conditions)}</td>
<td class="hh-rev" data-rev="applied">${revisionCell(a.applied, r.applied, now)}</td>
<td class="hh-rev" data-rev="proposed">${a.proposed && a.proposed === a.applied ? html`<span class="hh-muted">= applied</span>` : revisionCell(a.proposed, r.proposed, now)}</td>
<td>${modelChip(a.model)}</td>
<td>${runtimeCell(a)}</td>
<td>${r.inboxDepth === null ? html`<span class="hh-muted">—</span>` : r.inboxDepth}</td>
</tr>`;
}

function agentsSection(d: DashboardData): SafeHtml {
  const l = d.listing;
  const empty = l && (isFiltered(l.query) || l.query.offset) ? 'No agents match the filter.' : 'No agents yet. Create one below.';
  return html`<section class="hh-section" id="agents" data-live>
<h2>Agents <span class="hh-count" data-testid="agents-total">${l ? l.total : d.agents.length}</span></h2>
${l ? html`${fleetCounts(l, d.queueQuery)}${fleetFilterForm(l.query, d.queueQuery)}${bulkBar(l, d.csrf)}` : ''}
${d.agents.length ? html`<table class="hh-table hh-agents">
<thead><tr>${l ? html`<th class="hh-select"><span class="hh-sr">select</span></th>` : ''}<th>agent</th><th>conditions</th><th>applied</th><th>proposed</th><th>model</th><th>runtime</th><th>inbox</th></tr></thead>
<tbody>${d.agents.map((r) => agentRow(r, d.now, !!l))}</tbody></table>` : html`<p class="hh-muted">${empty}</p>`}
${l ? fleetPager(l, d.agents.length, d.queueQuery) : ''}
</section>
${l ? html`<script src="/assets/fleet.js" defer></script>` : ''}`;
}

export function dashboardPage(d: DashboardData): SafeHtml {
  return layout({
    title: 'Dashboard', page: 'dashboard', css: d.listing ? ['/assets/fleet.css'] : undefined, csrf: d.csrf, identity: d.identity, flash: d.flash, live: true, inboxUnread: d.operatorUnread,
    body: html`${agentsSection(d)}
<section class="hh-section">
<form class="hh-inline-form" method="post" action="/agents" id="create-agent">
${csrfField(d.csrf)}
<label for="new-agent-name">New agent</label>
<input id="new-agent-name" name="name" required pattern="[a-z][a-z0-9-]{0,31}" maxlength="32" placeholder="name (a-z, 0-9, -)" autocomplete="off">
<button type="submit">Create agent</button>
</form>
</section>
${keptSection(d.kept ?? [], d.now, d.csrf)}
<section class="hh-section" id="queue" data-live>
<h2>Approval queue <span class="hh-count">${d.queue.length}</span></h2>
${d.queueQuery && d.listing ? queueControls(d.queueQuery, d.listing.query, d.queueKinds ?? {}) : ''}
${approvalsTable(d.queue, d.now, { empty: d.queueQuery?.kind ? `No ${d.queueQuery.kind} requests waiting.` : 'No requests waiting.' })}
</section>
${draftsSection(d)}
${runtimeSection(d.runtime, d.now)}
<section class="hh-section" id="log" data-live>
<h2>Reconciliation log</h2>
${logTable(d.log, d.now)}
</section>`,
  });
}
