import { ApprovalStore, type Approval } from '../../controller/approvals/store.ts';
import type { AgentView } from '../../controller/controller.ts';
import { modelChip } from './components.ts';
import type { RenderedDiff } from './diff.ts';
import { age, html, isoTime, shortSha, type SafeHtml } from './html.ts';
import { csrfField, layout, type Flash } from './layout.ts';
import { destroyRequestBody, reviveRequestBody } from './kept.ts';
import { toolRequestBody } from './tool-call.ts';

export interface ApprovalCommit {
  sha: string;
  subject: string;
  body: string;
  author: { name: string; email: string; date: number };
  proposer: string | null;
}

export interface ApprovalPageData {
  now: number;
  csrf: string | null;
  identity: string;
  flash?: Flash[];
  approval: Approval;
  agent: AgentView | null;
  commits: ApprovalCommit[];
  /** null for kinds without a SHA pair. */
  diff: RenderedDiff | null;
  /** What moved since the request was raised (pending only), and the request now open for the agent. */
  stale: { message: string; newer: Approval | null } | null;
  votes: { by: string; decision: string; reason: string | null; at: number }[];
  /** How many distinct operators must approve (policy.json's quorum rules; one without them). */
  required?: number;
  /** The controller evaluates proposed configs: a change request without a verdict is still being checked. */
  configChecks: boolean;
}

/**
 * The config check's verdict on a change request (`data.configCheck`), so an operator sees before
 * approving whether the proposed config evaluates; approve refuses one that does not (422).
 */
function configLine(d: ApprovalPageData): SafeHtml | '' {
  const a = d.approval;
  if (a.kind !== 'change') return '';
  const verdict = a.data?.configCheck;
  const open = a.status === 'pending' || a.status === 'diverged';
  if (verdict === 'ok') return html`<p class="hh-config hh-config-ok" data-testid="config-check">Config evaluates: checked as the agent will load it.</p>`;
  if (verdict === 'failed') {
    const why = ApprovalStore.configError(a) ?? 'no error text';
    return html`<div class="hh-config hh-config-failed" role="alert" data-testid="config-check"><strong>Config does not evaluate:</strong> <code>${why}</code>${open ? html` Approving it is refused; push a fix (it supersedes this request) or reject.` : ''}</div>`;
  }
  if (open && d.configChecks) return html`<p class="hh-config hh-muted" data-testid="config-check">Config is being evaluated…</p>`;
  if (open) return html`<p class="hh-config hh-muted" data-testid="config-check">Config is not evaluated: this controller runs without config checks.</p>`;
  return '';
}

/** Under a quorum above one: how many approvals of how many, and whose so far. */
function quorumLine(d: ApprovalPageData): SafeHtml | '' {
  const required = d.required ?? 1;
  if (required <= 1) return '';
  const approvers = d.votes.filter((v) => v.decision === 'approve').map((v) => v.by);
  const open = d.approval.status === 'pending' || d.approval.status === 'diverged';
  return html`<p class="hh-quorum" data-testid="quorum"><strong>${approvers.length} of ${required} approvals</strong>${approvers.length ? html` so far: ${approvers.join(', ')}` : ''}${open ? html` <span class="hh-muted">(${required} distinct operators must approve; the proposer's own approval does not count)</span>` : ''}</p>`;
}

function statusBanner(d: ApprovalPageData): SafeHtml {
  const a = d.approval;
  const decided = a.decidedBy ? html` by <strong>${a.decidedBy}</strong> <time datetime="${isoTime(a.decidedAt)}">${age(a.decidedAt, d.now)}</time>` : '';
  let detail: SafeHtml | string = '';
  if (a.status === 'superseded') detail = html`Superseded${a.supersededBy ? html` by <a href="/approvals/${a.supersededBy}">request #${a.supersededBy}</a>` : ''}: a newer push changed <code>proposed</code>; approvals never carry over to a new pair.`;
  else if (a.status === 'rejected') detail = html`Rejected${decided}${a.reason ? html`: <q>${a.reason}</q>` : ''}. <code>proposed</code> keeps its commits; revert it to <code>applied</code> below, or push a fix (a new request covers the whole net change).`;
  else if (a.status === 'approved' && a.kind === 'revive') detail = html`Approved${decided}. ${a.agent} is active again at <code>${shortSha(a.head)}</code> (applied did not move).`;
  else if (a.status === 'approved' && a.kind === 'destroy') detail = html`Approved${decided}. ${a.agent} was destroyed; its repo and state are kept.`;
  else if (a.status === 'expired' && a.reason) detail = html`Expired: ${a.reason}.`;
  else if (a.status === 'approved') detail = html`Approved${decided}. <code>applied</code> moved to <code>${shortSha(a.head)}</code>.`;
  else if (a.status === 'diverged') detail = html`Diverged: <code>proposed</code> does not descend from <code>applied</code>; nothing can be applied. Rebase <code>proposed</code> on <code>applied</code> and push again, or reject.`;
  else if (a.status === 'failed') detail = html`Failed${a.error ? html`: ${a.error}` : ''}.`;
  else if (a.status === 'expired') detail = html`Expired.`;
  return html`<section class="hh-section" id="approval-status" data-live>
<p class="hh-status-line"><span class="hh-status hh-status-${a.status}" data-testid="approval-status">${a.status}</span> ${detail}</p>
${configLine(d)}
${d.stale ? html`<div class="hh-stale" role="alert" data-testid="stale"><strong>Stale:</strong> ${d.stale.message}${d.stale.newer && d.stale.newer.id !== a.id ? html` — <a href="/approvals/${d.stale.newer.id}">open request #${d.stale.newer.id}</a>` : ''}</div>` : ''}
${quorumLine(d)}
${d.votes.length ? html`<ul class="hh-votes">${d.votes.map((v) => html`<li>${v.by}: ${v.decision}${v.reason ? html` — <q>${v.reason}</q>` : ''} <span class="hh-muted">${age(v.at, d.now)}</span></li>`)}</ul>` : ''}
</section>`;
}

function actions(d: ApprovalPageData): SafeHtml {
  const a = d.approval;
  if (a.status === 'pending' || a.status === 'diverged') {
    return html`<section class="hh-section hh-actions" id="decide">
${a.status === 'pending' ? html`<form method="post" action="/approvals/${a.id}/approve" class="hh-inline-form">${csrfField(d.csrf)}<button type="submit" class="hh-approve" data-testid="approve"${a.data?.configCheck === 'failed' ? html` disabled title="the proposed config does not evaluate"` : ''}>Approve</button></form>` : ''}
<form method="post" action="/approvals/${a.id}/reject" class="hh-inline-form">${csrfField(d.csrf)}
<label for="reject-reason">Reason</label><input id="reject-reason" name="reason" required maxlength="2000" placeholder="why not">
<button type="submit" class="hh-reject" data-testid="reject">Reject</button></form>
</section>`;
  }
  if (a.status === 'rejected' && a.kind === 'change') {
    return html`<section class="hh-section hh-actions" id="decide">
<form method="post" action="/agents/${a.agent}/revert" class="hh-inline-form">${csrfField(d.csrf)}<input type="hidden" name="from" value="/approvals/${a.id}">
<button type="submit" data-testid="revert">Revert proposed</button> <span class="hh-muted">commits applied's tree on <code>proposed</code>, as you</span></form>
</section>`;
  }
  return html``;
}

function commitsList(d: ApprovalPageData): SafeHtml {
  if (!d.commits.length) return html``;
  return html`<section class="hh-section" id="commits"><h2>Commits <span class="hh-count">${d.commits.length}</span></h2>
<ol class="hh-commits">${d.commits.map((c) => html`<li><code class="hh-sha" title="${c.sha}">${shortSha(c.sha)}</code> <strong>${c.subject}</strong>
<span class="hh-muted">author ${c.author.name} &lt;${c.author.email}&gt;, <time datetime="${isoTime(c.author.date)}">${age(c.author.date, d.now)}</time>; proposer ${c.proposer ?? 'unknown'}</span>
${c.body.trim() ? html`<pre class="hh-commit-body">${c.body.trim()}</pre>` : ''}</li>`)}</ol></section>`;
}

function diffSection(d: ApprovalPageData): SafeHtml {
  const diff = d.diff;
  const a = d.approval;
  if (!diff) return html`<section class="hh-section"><h2>Request</h2><pre>${JSON.stringify(a.data, null, 2)}</pre></section>`;
  const side = diff.format === 'side-by-side';
  return html`<section class="hh-section" id="diff">
<h2>Changes</h2>
<p class="hh-toggle">View: ${side ? html`<strong>side by side</strong>` : html`<a href="/approvals/${a.id}?view=side" data-testid="view-side">side by side</a>`} · ${side ? html`<a href="/approvals/${a.id}?view=line" data-testid="view-line">line by line</a>` : html`<strong>line by line</strong>`}${diff.large ? html` · <span class="hh-muted">large change: ${diff.files.filter((f) => f.collapsed).length} files collapsed, expand them one by one</span>` : ''}</p>
${diff.fileList}
<div class="hh-diff" data-file-src="/approvals/${a.id}/file" data-view="${side ? 'side' : 'line'}">
${diff.body}
</div>
</section>`;
}

export function approvalPage(d: ApprovalPageData): SafeHtml {
  const a = d.approval;
  if (a.kind === 'tool') {
    return layout({
      title: `Tool request #${a.id}`, page: 'approval', csrf: d.csrf, identity: d.identity, flash: d.flash, live: true, agent: a.agent,
      body: html`<h1>Tool request #${a.id} <span class="hh-tag">tool</span> for <a href="/agents/${a.agent}">${a.agent}</a></h1>
${toolRequestBody(a, { now: d.now, csrf: d.csrf })}`,
    });
  }
  return layout({
    title: `Request #${a.id}`, page: 'approval', csrf: d.csrf, identity: d.identity, flash: d.flash, live: true, agent: a.agent,
    css: d.diff ? ['/vendor/diff2html.min.css'] : [],
    body: html`<h1>Request #${a.id} <span class="hh-tag">${a.kind}</span> for <a href="/agents/${a.agent}">${a.agent}</a></h1>
<p class="hh-meta"><code title="${a.base ?? ''}">${shortSha(a.base)}</code>..<code title="${a.head ?? ''}">${shortSha(a.head)}</code>
· proposed by <strong>${a.proposer ?? 'unknown'}</strong> <time datetime="${isoTime(a.createdAt)}">${age(a.createdAt, d.now)}</time>
${a.patchHash ? html`· patch <code title="${a.patchHash}">${a.patchHash.slice(0, 12)}</code>` : ''}
${d.agent ? html`· ${modelChip(d.agent.model)}` : ''}</p>
${statusBanner(d)}
${a.kind === 'revive' || a.kind === 'destroy' ? html`${a.kind === 'revive' ? reviveRequestBody(a) : destroyRequestBody(a)}
${actions(d)}` : html`${actions(d)}
${commitsList(d)}
${diffSection(d)}`}`,
  });
}
