import type { Approval } from '../../controller/approvals/store.ts';
import type { AgentView } from '../../controller/controller.ts';
import type { LogEntry } from '../../controller/log.ts';
import type { Condition } from '../../controller/reconciler/types.ts';
import { age, html, isoTime, shortSha, type SafeHtml } from './html.ts';
import { toolSummary } from './tool-call.ts';

/** A commit as the UI shows it: who proposed it comes from the push record, not the (forgeable) author. */
export interface RevisionInfo { sha: string; subject: string; author: string; date: number; proposer: string | null }

export interface ApprovalRow { approval: Approval; added: number | null; deleted: number | null }

export function conditionBadges(conditions: Condition[]): SafeHtml {
  if (!conditions.length) return html`<span class="hh-cond hh-cond-unknown">Unknown</span>`;
  return html`${conditions.filter((c) => c.status === 'True').map((c) => html`<span class="hh-cond hh-cond-${c.type.toLowerCase()}" title="${c.message}">${c.type}</span> <span class="hh-reason" title="${c.message}">${c.reason}</span> `)}${conditions.every((c) => c.status !== 'True') ? html`<span class="hh-cond hh-cond-unknown">${conditions.map((c) => `${c.type}=${c.status}`).join(' ')}</span>` : ''}`;
}

export function conditionMessages(conditions: Condition[]): SafeHtml {
  return html`<ul class="hh-conditions">${conditions.map((c) => html`<li><span class="hh-cond hh-cond-${c.status === 'True' ? c.type.toLowerCase() : 'false'}">${c.type}=${c.status}</span> <strong>${c.reason}</strong> ${c.message}</li>`)}</ul>`;
}

export function revisionCell(sha: string | null, info: RevisionInfo | null, now: number): SafeHtml {
  if (!sha) return html`<span class="hh-muted">none</span>`;
  if (!info) return html`<code class="hh-sha">${shortSha(sha)}</code>`;
  return html`<code class="hh-sha" title="${sha}">${shortSha(sha)}</code> <span class="hh-subject">${info.subject}</span><br><span class="hh-muted">by ${info.proposer ?? info.author}, <time datetime="${isoTime(info.date)}">${age(info.date, now)}</time></span>`;
}

export function runtimeCell(a: AgentView): SafeHtml {
  return html`<span class="hh-rt hh-rt-${a.runtime.state}">${a.runtime.state}</span>${a.runtime.isolated ? html` <span class="hh-tag" title="${a.runtime.note}">${a.runtime.kind}</span>` : html` <span class="hh-tag hh-tag-warn" title="${a.runtime.note || 'the process runtime runs agents as local child processes'}">not isolated</span>`}${a.runtime.revision ? html` <code class="hh-sha" title="${a.runtime.revision}">${shortSha(a.runtime.revision)}</code>` : ''}`;
}

export const modelChip = (model: string | null): SafeHtml => html`<span class="hh-chip" data-testid="model-chip">model · ${model ?? 'default'}</span>`;

export function pathsSummary(paths: string[], max = 5): SafeHtml {
  if (!paths.length) return html`<span class="hh-muted">—</span>`;
  const shown = paths.slice(0, max);
  return html`${shown.map((p, i) => html`${i ? ', ' : ''}<code>${p}</code>`)}${paths.length > max ? html` <span class="hh-muted">and ${paths.length - max} more</span>` : ''}`;
}

export function approvalsTable(rows: ApprovalRow[], now: number, opts: { showAgent?: boolean; empty?: string } = {}): SafeHtml {
  if (!rows.length) return html`<p class="hh-muted">${opts.empty ?? 'No requests waiting.'}</p>`;
  return html`<table class="hh-table hh-approvals">
<thead><tr><th>#</th><th>kind</th>${opts.showAgent !== false ? html`<th>agent</th>` : ''}<th>status</th><th>changed paths</th><th>+/−</th><th>proposer</th><th>age</th></tr></thead>
<tbody>${rows.map(({ approval: a, added, deleted }) => html`<tr data-approval="${a.id}">
<td><a href="/approvals/${a.id}">#${a.id}</a></td><td>${a.kind}</td>${opts.showAgent !== false ? html`<td><a href="/agents/${a.agent}">${a.agent}</a></td>` : ''}
<td><span class="hh-status hh-status-${a.status}">${a.status}</span>${a.kind === 'change' && a.data?.configCheck === 'failed' && (a.status === 'pending' || a.status === 'diverged') ? html` <span class="hh-config-bad" data-testid="config-failed" title="${a.error ?? 'the proposed config does not evaluate'}">config does not evaluate</span>` : ''}</td>
<td class="hh-wrap">${a.kind === 'tool' ? toolSummary(a) : pathsSummary(a.paths)}</td>
<td>${added === null ? html`<span class="hh-muted">—</span>` : html`<span class="hh-add">+${added}</span> <span class="hh-del">−${deleted ?? 0}</span>`}</td>
<td>${a.proposer ?? html`<span class="hh-muted">unknown</span>`}</td>
<td><time datetime="${isoTime(a.createdAt)}">${age(a.createdAt, now)}</time></td>
</tr>`)}</tbody></table>`;
}

export function logTable(entries: LogEntry[], now: number, opts: { showAgent?: boolean } = {}): SafeHtml {
  if (!entries.length) return html`<p class="hh-muted">Nothing logged yet.</p>`;
  return html`<table class="hh-table hh-log"><tbody>${entries.map((e) => html`<tr class="hh-level-${e.level}">
<td><time datetime="${isoTime(e.ts)}" title="${isoTime(e.ts)}">${age(e.ts, now)}</time></td>${opts.showAgent !== false ? html`<td>${e.agent ? html`<a href="/agents/${e.agent}">${e.agent}</a>` : html`<span class="hh-muted">—</span>`}</td>` : ''}
<td><span class="hh-event">${e.event}</span></td><td>${e.message}${turnLink(e)}</td></tr>`)}</tbody></table>`;
}

/** A `turn` line links to the turn's transcript (its id rides in the line's data). */
function turnLink(e: LogEntry): SafeHtml | '' {
  const id = e.data?.turn;
  return e.agent && (e.event === 'turn' || e.event === 'turn-started') && typeof id === 'number' && Number.isSafeInteger(id)
    ? html` <a class="hh-turn-link" href="/agents/${e.agent}/turns/${id}" data-testid="log-turn-link">transcript #${id}</a>` : '';
}
