import { toolData } from '../../controller/approvals/kinds/tool.ts';
import type { Approval } from '../../controller/approvals/store.ts';
import { suggestPattern } from '../../controller/tools/pattern.ts';
import { age, duration, html, isoTime, type SafeHtml } from './html.ts';
import { csrfField } from './layout.ts';

// A tool-use request as an operator reads it on any screen: the call rendered for what it is (a Bash
// command as a command, an Edit or Write as a diff), the agent's recent context, and the three answers.

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** A line diff of two texts (longest common subsequence; inputs are a tool call's, so small). Pure. */
export function lineDiff(before: string, after: string): { op: ' ' | '-' | '+'; line: string }[] {
  const a = before.split('\n'); const b = after.split('\n');
  if (a.length * b.length > 4_000_000) return [...a.map((line) => ({ op: '-' as const, line })), ...b.map((line) => ({ op: '+' as const, line }))];
  const lcs = Array.from({ length: a.length + 1 }, () => new Uint32Array(b.length + 1));
  for (let i = a.length - 1; i >= 0; i--) for (let j = b.length - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const out: { op: ' ' | '-' | '+'; line: string }[] = [];
  let i = 0; let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) { out.push({ op: ' ', line: a[i]! }); i++; j++; }
    else if (lcs[i + 1]![j]! >= lcs[i]![j + 1]!) out.push({ op: '-', line: a[i++]! });
    else out.push({ op: '+', line: b[j++]! });
  }
  while (i < a.length) out.push({ op: '-', line: a[i++]! });
  while (j < b.length) out.push({ op: '+', line: b[j++]! });
  return out;
}

function diffBlock(file: string | null, before: string, after: string): SafeHtml {
  return html`${file ? html`<p class="hh-file-name"><code>${file}</code></p>` : ''}<pre class="hh-tool-diff" data-testid="tool-diff">${lineDiff(before, after).map((l) => html`<span class="hh-diff-${l.op === '+' ? 'add' : l.op === '-' ? 'del' : 'ctx'}">${l.op} ${l.line}</span>\n`)}</pre>`;
}

/** The call's input, readably. */
export function toolInput(name: string, input: unknown): SafeHtml {
  const i = isObj(input) ? input : {};
  if (name === 'Bash' && str(i.command) !== null) {
    return html`<pre class="hh-command" data-testid="tool-command"><span class="hh-muted">$ </span>${str(i.command)}</pre>${str(i.description) ? html`<p class="hh-muted">${str(i.description)}</p>` : ''}`;
  }
  if (name === 'Edit' && str(i.file_path) !== null) return diffBlock(str(i.file_path), str(i.old_string) ?? '', str(i.new_string) ?? '');
  if (name === 'MultiEdit' && Array.isArray(i.edits)) {
    return html`${(i.edits as unknown[]).map((e, n) => (isObj(e) ? diffBlock(n === 0 ? str(i.file_path) : null, str(e.old_string) ?? '', str(e.new_string) ?? '') : ''))}`;
  }
  if (name === 'Write' && str(i.file_path) !== null) return diffBlock(str(i.file_path), '', str(i.content) ?? '');
  return html`<pre class="hh-tool-json" data-testid="tool-input">${JSON.stringify(input, null, 2)}</pre>`;
}

/** The agent's last messages and its turn so far, as the harness sent them. */
function contextSection(ctx: unknown): SafeHtml | '' {
  if (!isObj(ctx)) return '';
  const messages = Array.isArray(ctx.messages) ? ctx.messages.filter(isObj) : [];
  const turn = Array.isArray(ctx.turn) ? ctx.turn.filter(isObj) : [];
  if (!messages.length && !turn.length) return '';
  return html`<section class="hh-section" id="tool-context"><h2>Context</h2>
${messages.length ? html`<h3>Messages this turn answers</h3><ul class="hh-context-msgs">${messages.map((m) => html`<li><strong>${str(m.from) ?? '?'}</strong>: <span class="hh-msg-body">${(str(m.body) ?? '').slice(0, 2000)}</span></li>`)}</ul>` : ''}
${turn.length ? html`<h3>The turn so far</h3><ol class="hh-context-turn">${turn.map((s) => (s.type === 'tool'
    ? html`<li><span class="hh-tag">tool</span> <code>${str(s.name) ?? '?'}</code> <code class="hh-wrap">${JSON.stringify(s.input ?? null).slice(0, 300)}</code></li>`
    : html`<li><span class="hh-msg-body">${(str(s.text) ?? '').slice(0, 2000)}</span></li>`))}</ol>` : ''}
</section>`;
}

function answers(a: Approval, csrf: string | null): SafeHtml {
  const d = toolData(a);
  const suggestion = suggestPattern({ ...d.tool, cwd: d.cwd ?? undefined });
  return html`<section class="hh-section hh-actions hh-tool-actions" id="decide">
<form method="post" action="/approvals/${a.id}/approve" class="hh-inline-form">${csrfField(csrf)}<button type="submit" class="hh-approve" data-testid="allow-once">Allow once</button></form>
<form method="post" action="/approvals/${a.id}/approve" class="hh-inline-form hh-always">${csrfField(csrf)}<input type="hidden" name="always" value="true">
<label for="always-pattern">Pattern</label><input id="always-pattern" name="pattern" value="${suggestion}" maxlength="2000" spellcheck="false">
<button type="submit" data-testid="allow-always">Allow always</button>
<span class="hh-help hh-muted">allows this call, and proposes the pattern in <code>hyperhive.json</code> as a change you approve like any other</span></form>
<form method="post" action="/approvals/${a.id}/reject" class="hh-inline-form">${csrfField(csrf)}
<label for="deny-reason">Message to the agent</label><input id="deny-reason" name="reason" required maxlength="2000" placeholder="why not, or what to do instead">
<button type="submit" class="hh-reject" data-testid="deny">Deny</button></form>
</section>`;
}

/** The body of a tool request's page (below its title). */
export function toolRequestBody(a: Approval, o: { now: number; csrf: string | null }): SafeHtml {
  const d = toolData(a);
  const open = a.status === 'pending';
  const waited = (a.decidedAt ?? o.now) - a.createdAt;
  const always = a.data.always as { pattern: string; commit: string; request: number | null; effective?: boolean | null } | undefined;
  return html`<section class="hh-section" id="approval-status" data-live>
<p class="hh-status-line"><span class="hh-status hh-status-${a.status}" data-testid="approval-status">${a.status}</span>
${open ? html`waiting for an operator for ${duration(waited)}; denied <time datetime="${isoTime(d.timeoutAt)}">${d.timeoutAt > o.now ? `in ${duration(d.timeoutAt - o.now)}` : 'now'}</time> if nobody answers.`
    : a.status === 'approved' ? html`Allowed once by <strong>${a.decidedBy}</strong> after ${duration(waited)}.`
    : a.status === 'rejected' ? html`Denied by <strong>${a.decidedBy}</strong> after ${duration(waited)}: <q>${a.reason ?? ''}</q>`
    : html`${a.reason ?? a.error ?? ''}`}</p>
${always ? html`<p data-testid="always">Allow always: <code>${always.pattern}</code> proposed as <code>${always.commit.slice(0, 8)}</code>${always.request ? html` — <a href="/approvals/${always.request}">change request #${always.request}</a> (it takes effect once approved)` : ''}${always.effective === false ? html` <strong class="hh-del">Note: this agent's agent.nix does not take its surface from hyperhive.json, so approving it will not allow the call.</strong>` : ''}</p>` : ''}
</section>
<section class="hh-section" id="tool-call"><h2>${a.agent} wants to run <code>${d.tool.name}</code></h2>
${toolInput(d.tool.name, d.tool.input)}
<p class="hh-muted">asked <time datetime="${isoTime(a.createdAt)}">${age(a.createdAt, o.now)}</time>${d.toolUseId ? html` · tool_use_id <code>${d.toolUseId}</code>` : ''}${d.cwd ? html` · in <code>${d.cwd}</code>` : ''}</p>
</section>
${open ? answers(a, o.csrf) : ''}
${contextSection(d.context)}`;
}

/** One line for the queue: the tool and what it would do. */
export function toolSummary(a: Approval): SafeHtml {
  const d = toolData(a);
  const i = isObj(d.tool?.input) ? d.tool.input : {};
  const what = str(i.command) ?? str(i.file_path) ?? str(i.url) ?? '';
  return html`<code>${d.tool?.name ?? '?'}</code>${what ? html` <code class="hh-wrap">${what.length > 120 ? `${what.slice(0, 120)}…` : what}</code>` : ''}`;
}
