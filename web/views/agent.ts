import type { AgentView } from '../../controller/controller.ts';
import type { LogEntry } from '../../controller/log.ts';
import { approvalsTable, conditionMessages, logTable, modelChip, revisionCell, runtimeCell, type ApprovalRow, type RevisionInfo } from './components.ts';
import { age, duration, html, isoTime, shortSha, type SafeHtml } from './html.ts';
import { csrfField, layout, type Flash } from './layout.ts';
import { renderMarkdown } from './markdown.ts';
import { agentCharts } from './charts.ts';

export interface AgentPageData {
  now: number;
  csrf: string | null;
  identity: string;
  flash?: Flash[];
  agent: AgentView;
  applied: RevisionInfo | null;
  proposed: RevisionInfo | null;
  /** notes.md on `live`; null when absent. */
  notes: string | null;
  open: ApprovalRow[];
  log: LogEntry[];
  /** The operator can message the agent (the bus is wired). */
  messaging: boolean;
  inboxDepth: number | null;
  commands: { usage: string; help: string }[];
  /** The last slash command typed, shown again after an error so it can be fixed. */
  lastCommand?: string;
  /** The turn in progress (or the last one) and the recent turns, when transcripts are wired. */
  turns?: SafeHtml | null;
  /** The terminal section, when a terminal server is wired. */
  terminal?: SafeHtml | null;
  /** Destroy (an active agent), or what a kept agent is and its revive and purge (web/views/kept.ts). */
  lifecycle?: SafeHtml | null;
}

function stateRow(d: AgentPageData): SafeHtml {
  const a = d.agent;
  const rt = a.runtime;
  const uptime = rt.state === 'running' && rt.startedAt ? duration(d.now - rt.startedAt) : '—';
  return html`<section class="hh-section" id="state" data-live>
<div class="hh-state-row">
<div><span class="hh-label">state</span> ${a.state}${a.suspended ? html` <span class="hh-tag hh-tag-warn" data-testid="suspended">suspended</span>` : ''}</div>
<div><span class="hh-label">runtime</span> ${runtimeCell(a)}</div>
<div><span class="hh-label">runtime revision</span> <code class="hh-sha" data-testid="runtime-revision" title="${rt.revision ?? ''}">${shortSha(rt.revision)}</code></div>
<div><span class="hh-label">uptime</span> ${uptime}</div>
<div><span class="hh-label">restarts</span> ${rt.restarts}</div>
${d.inboxDepth !== null ? html`<div><span class="hh-label">inbox</span> ${d.inboxDepth}</div>` : ''}
</div>
${conditionMessages(a.conditions)}
<table class="hh-table hh-revs"><tbody>
<tr><th>applied</th><td data-testid="applied-revision" data-sha="${a.applied ?? ''}">${revisionCell(a.applied, d.applied, d.now)}</td></tr>
<tr><th>proposed</th><td data-testid="proposed-revision" data-sha="${a.proposed ?? ''}">${revisionCell(a.proposed, d.proposed, d.now)}</td></tr>
<tr><th>live</th><td><code class="hh-sha" title="${a.live ?? ''}">${shortSha(a.live)}</code></td></tr>
</tbody></table>
${rt.note ? html`<p class="hh-muted">${rt.note}</p>` : ''}
</section>`;
}

function commandBox(d: AgentPageData): SafeHtml {
  const name = d.agent.name;
  return html`<section class="hh-section" id="command">
<form method="post" action="/agents/${name}/command" class="hh-inline-form hh-command">${csrfField(d.csrf)}
<label for="command-input">Command</label>
<input id="command-input" name="command" required maxlength="500" placeholder="/model opus" autocomplete="off" list="command-list" value="${d.lastCommand ?? ''}" data-testid="command-input">
<datalist id="command-list">${d.commands.map((c) => html`<option value="${c.usage.split(' ')[0]}">${c.help}</option>`)}</datalist>
<button type="submit">Run</button>
</form>
<p class="hh-muted hh-help">${d.commands.map((c, i) => html`${i ? ' · ' : ''}<code>${c.usage}</code>`)}</p>
${d.messaging ? html`<form method="post" action="/agents/${name}/message" class="hh-inline-form">${csrfField(d.csrf)}
<label for="message-input">Message ${name}</label>
<input id="message-input" name="body" required maxlength="100000" autocomplete="off">
<button type="submit">Send</button></form>` : ''}
</section>`;
}

function history(d: AgentPageData): SafeHtml {
  const h = [...d.agent.history].reverse();
  return html`<section class="hh-section" id="history" data-live><h2>Operations</h2>
${h.length ? html`<table class="hh-table"><tbody>${h.map((e) => html`<tr class="hh-result-${e.result}"><td><time datetime="${isoTime(e.ts)}">${age(e.ts, d.now)}</time></td><td>${e.op}</td><td><code class="hh-sha">${e.revision ? shortSha(e.revision) : ''}</code></td><td>${e.result}</td><td>${e.message}</td></tr>`)}</tbody></table>` : html`<p class="hh-muted">No operations yet.</p>`}
</section>`;
}

export function agentPage(d: AgentPageData): SafeHtml {
  const a = d.agent;
  return layout({
    title: a.name, page: 'agent', csrf: d.csrf, identity: d.identity, flash: d.flash, live: true, agent: a.name,
    body: html`<h1>${a.name} <span id="agent-chip" data-live>${modelChip(a.model)}</span></h1>
<p class="hh-meta">created by ${a.createdBy} <time datetime="${isoTime(a.createdAt)}">${age(a.createdAt, d.now)}</time></p>
${a.kept ? d.lifecycle ?? '' : ''}
${stateRow(d)}
${agentCharts(a.name, d.turns ? `/agents/${a.name}/turns` : undefined)}
${commandBox(d)}
${d.turns ?? ''}
${d.terminal ?? ''}
<section class="hh-section" id="requests" data-live><h2>Open requests <span class="hh-count">${d.open.length}</span></h2>
${approvalsTable(d.open, d.now, { showAgent: false, empty: 'No open requests.' })}</section>
${history(d)}
<section class="hh-section hh-notes" id="notes" data-live><h2>notes.md <span class="hh-muted">(live)</span></h2>
${d.notes === null || !d.notes.trim() ? html`<p class="hh-muted">No notes.</p>` : html`<article class="hh-markdown">${renderMarkdown(d.notes)}</article>`}</section>
<section class="hh-section" id="agent-log" data-live><h2>Log</h2>${logTable(d.log, d.now, { showAgent: false })}</section>
${a.kept ? '' : d.lifecycle ?? ''}`,
  });
}
