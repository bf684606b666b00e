import type { StoredTranscriptEvent, TurnSummary } from '../../controller/transcripts/types.ts';
import { editPatch, type TextEdit } from './edit-diff.ts';
import type { DiffRenderer } from './diff.ts';
import { age, html, isoTime, type SafeHtml } from './html.ts';
import { renderMarkdown } from './markdown.ts';

// A turn's transcript as HTML, rendered on the server like every page: everything in it came from
// the model or a tool, so every value goes through `html` (escaped) or the safe markdown renderer;
// an Edit becomes a diff2html diff. Long outputs are collapsed in <details> (no script needed).

export interface TranscriptRenderContext {
  diffs: DiffRenderer;
  /** Tool names by tool_use id (a fragment of newer events names the tools of the older ones). */
  toolNames: Map<string, string>;
}

type Ev<K extends StoredTranscriptEvent['kind']> = Extract<StoredTranscriptEvent, { kind: K }>;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** Collapsed when longer than this many lines or characters. */
const SHORT_LINES = 12;
const SHORT_CHARS = 1500;

const lineCount = (s: string): number => (s ? s.split('\n').length : 0);
const kb = (n: number): string => (n < 1024 ? `${n} B` : `${(n / 1024).toFixed(n < 10_240 ? 1 : 0)} KB`);

export const money = (usd: number | null | undefined): string => (usd === null || usd === undefined ? '—' : `$${usd.toFixed(4)}`);
export const seconds = (ms: number | null | undefined): string => (ms === null || ms === undefined ? '—' : ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`);

const truncatedNote = (e: StoredTranscriptEvent): SafeHtml | '' =>
  (e.truncated ? html`<p class="hh-muted hh-truncated">${e.truncated} characters of this event were not kept</p>` : '');

/** Text in a <pre>, shown whole when short, else collapsed with its size in the summary. */
export function collapsible(text: string, o: { label: string; cls?: string; open?: boolean } = { label: 'output' }): SafeHtml {
  const pre = html`<pre class="hh-pre ${o.cls ?? ''}">${text}</pre>`;
  if (!o.open && (lineCount(text) > SHORT_LINES || text.length > SHORT_CHARS)) {
    return html`<details class="hh-collapsible"><summary>${o.label}: ${lineCount(text)} lines, ${kb(Buffer.byteLength(text))}</summary>${pre}</details>`;
  }
  return pre;
}

const json = (v: unknown): string => JSON.stringify(v, null, 2) ?? 'null';

function editsOf(name: string, input: Record<string, unknown>): { path: string; edits: TextEdit[] } | null {
  const path = str(input.file_path) ?? str(input.path) ?? 'file';
  if (name === 'Edit' && str(input.old_string) !== null && str(input.new_string) !== null) return { path, edits: [{ old: input.old_string as string, new: input.new_string as string }] };
  if (name === 'MultiEdit' && Array.isArray(input.edits)) {
    const edits = input.edits.filter(isObj).filter((e) => str(e.old_string) !== null && str(e.new_string) !== null).map((e) => ({ old: e.old_string as string, new: e.new_string as string }));
    return edits.length ? { path, edits } : null;
  }
  return null;
}

/** A tool's input as a reader wants it: a Bash command as a command, an Edit as a diff, a file path as a path, the rest as JSON. */
export function toolInput(name: string, input: unknown, ctx: TranscriptRenderContext): SafeHtml {
  const o = isObj(input) ? input : {};
  if (name === 'Bash' && str(o.command) !== null) {
    const flags = [o.run_in_background === true ? 'in the background' : '', typeof o.timeout === 'number' ? `timeout ${seconds(o.timeout)}` : ''].filter(Boolean).join(', ');
    return html`${str(o.description) ? html`<p class="hh-tool-desc">${o.description as string}</p>` : ''}<pre class="hh-pre hh-cmd" data-testid="bash-command"><span class="hh-prompt" aria-hidden="true">$ </span>${o.command as string}</pre>${flags ? html`<p class="hh-muted">${flags}</p>` : ''}`;
  }
  const edit = editsOf(name, o);
  if (edit) {
    const patch = editPatch(edit.path, edit.edits);
    const d = ctx.diffs.render({ patch, paths: [{ path: edit.path, status: 'M' }] }, 'line-by-line');
    const body = html`<div class="hh-diff hh-edit-diff" data-testid="edit-diff">${d.body}</div>`;
    return html`<p class="hh-tool-path"><code>${edit.path}</code>${o.replace_all === true ? html` <span class="hh-tag">all occurrences</span>` : ''} <span class="hh-add">+${d.added}</span> <span class="hh-del">−${d.deleted}</span> <span class="hh-muted">(line numbers count from the edit)</span></p>${d.added + d.deleted > 400 ? html`<details class="hh-collapsible"><summary>diff: ${d.added + d.deleted} changed lines</summary>${body}</details>` : body}`;
  }
  if (name === 'Write' && str(o.file_path) !== null && str(o.content) !== null) {
    return html`<p class="hh-tool-path"><code>${o.file_path as string}</code> <span class="hh-muted">(whole file)</span></p>${collapsible(o.content as string, { label: 'content' })}`;
  }
  if ((name === 'Read' || name === 'NotebookRead') && str(o.file_path) !== null) {
    const range = [typeof o.offset === 'number' ? `from line ${o.offset}` : '', typeof o.limit === 'number' ? `${o.limit} lines` : ''].filter(Boolean).join(', ');
    return html`<p class="hh-tool-path"><code>${o.file_path as string}</code>${range ? html` <span class="hh-muted">${range}</span>` : ''}</p>`;
  }
  if (name === 'mcp__hyperhive__send' && str(o.to) !== null) {
    return html`<p class="hh-tool-path">to <strong>${o.to as string}</strong></p>${collapsible(str(o.body) ?? json(o.body), { label: 'message' })}`;
  }
  const keys = Object.keys(o);
  if (!keys.length) return html`<p class="hh-muted">no input</p>`;
  return collapsible(json(input), { label: 'input', cls: 'hh-json' });
}

function head(label: SafeHtml | string, e: StoredTranscriptEvent): SafeHtml {
  return html`<div class="hh-ev-head"><span class="hh-ev-label">${label}</span> <time class="hh-muted" datetime="${isoTime(e.at)}">${new Date(e.at).toISOString().slice(11, 19)}</time></div>`;
}

/** One event as a list item; `data-seq` is what the live page appends after. */
export function transcriptEvent(e: StoredTranscriptEvent, ctx: TranscriptRenderContext): SafeHtml {
  const li = (cls: string, body: SafeHtml) => html`<li class="hh-ev hh-ev-${cls}" data-seq="${e.seq}" data-kind="${e.kind}">${body}${truncatedNote(e)}</li>`;
  switch (e.kind) {
    case 'prompt': {
      const p = e as Ev<'prompt'>;
      return li('prompt', html`${head(`prompt · ${p.messages} message${p.messages === 1 ? '' : 's'}`, e)}${collapsible(p.text, { label: 'prompt' })}`);
    }
    case 'init': {
      const i = e as Ev<'init'>;
      return li('init', html`${head('session', e)}<p class="hh-muted">model <strong>${i.model ?? 'default'}</strong> · ${i.tools} tools${i.mcpServers.length ? html` · MCP ${i.mcpServers.map((s, k) => html`${k ? ', ' : ''}${s.name} <span class="hh-mcp-${s.status === 'connected' ? 'ok' : 'bad'}">${s.status}</span>`)}` : ''}${i.sessionId ? html` · session <code>${i.sessionId.slice(0, 8)}</code>` : ''}</p>`);
    }
    case 'text':
      return li('text', html`${head('assistant', e)}<div class="hh-markdown hh-ev-text">${renderMarkdown((e as Ev<'text'>).text)}</div>`);
    case 'thinking':
      return li('thinking', html`${head('thinking', e)}${collapsible((e as Ev<'thinking'>).text, { label: 'thinking' })}`);
    case 'tool_use': {
      const u = e as Ev<'tool_use'>;
      return li('tool-use', html`${head(html`tool <span class="hh-tool-name" data-testid="tool-name">${u.name}</span>`, e)}${toolInput(u.name, u.input, ctx)}`);
    }
    case 'tool_result': {
      const r = e as Ev<'tool_result'>;
      const name = r.toolUseId ? ctx.toolNames.get(r.toolUseId) : undefined;
      const label = html`${r.isError ? 'error from' : 'result of'} ${name ? html`<span class="hh-tool-name">${name}</span>` : 'a tool'}`;
      return li(r.isError ? 'tool-error' : 'tool-result', html`${head(label, e)}${r.content ? collapsible(r.content, { label: 'output' }) : html`<p class="hh-muted">(no output)</p>`}`);
    }
    case 'error':
      return li('error', html`${head('error', e)}<pre class="hh-pre hh-error-text">${(e as Ev<'error'>).message}</pre>`);
    case 'result': {
      const r = e as Ev<'result'>;
      return li(r.isError ? 'result-error' : 'result', html`${head(`result: ${r.subtype}`, e)}<p class="hh-muted">${money(r.costUsd)} · ${r.numTurns} model turn${r.numTurns === 1 ? '' : 's'} · ${seconds(r.durationMs)} · tokens ${r.usage.inputTokens} in, ${r.usage.outputTokens} out, ${r.usage.cacheReadTokens} cache read</p>${r.text ? html`<div class="hh-markdown">${renderMarkdown(r.text)}</div>` : ''}`);
    }
  }
}

export function transcriptEvents(events: StoredTranscriptEvent[], ctx: TranscriptRenderContext): SafeHtml {
  return html`${events.map((e) => transcriptEvent(e, ctx))}`;
}

const classBadge = (t: TurnSummary): SafeHtml => (t.status === 'running'
  ? html`<span class="hh-status hh-status-pending" data-testid="turn-status">running</span>`
  : t.status === 'interrupted' && !t.class ? html`<span class="hh-status hh-status-failed" data-testid="turn-status">interrupted</span>`
    : html`<span class="hh-status hh-turn-${t.class === 'ok' ? 'ok' : 'bad'}" data-testid="turn-status">${t.class ?? t.status}</span>`);

/** The line above a transcript: which turn, when, how it ended, what it cost. */
export function turnHeader(t: TurnSummary, now: number): SafeHtml {
  const tools = Object.values(t.tools).reduce((a, b) => a + b, 0);
  return html`<header class="hh-turn-head" data-turn="${t.id}" data-status="${t.status}" data-last-seq="${t.events}">
<a href="/agents/${t.agent}/turns/${t.id}" class="hh-turn-link">turn #${t.id}</a> ${classBadge(t)}
<span class="hh-muted">started <time datetime="${isoTime(t.startedAt)}">${age(t.startedAt, now)}</time>${t.durationMs !== null ? html` · ${seconds(t.durationMs)}` : ''}${t.costUsd !== null ? html` · ${money(t.costUsd)}` : ''}${t.model ? html` · model ${t.model}` : ''}${t.status === 'done' ? html` · ${tools} tool call${tools === 1 ? '' : 's'}` : ''} · ${t.events} event${t.events === 1 ? '' : 's'}${t.dropped ? html` · <span class="hh-warn">${t.dropped} not kept</span>` : ''}</span>
${t.error ? html`<p class="hh-error-text">${t.error}</p>` : ''}</header>`;
}

/** The table of an agent's turns, newest first, each linking to its transcript. */
export function turnsTable(turns: TurnSummary[], now: number, empty = 'No turns yet.'): SafeHtml {
  if (!turns.length) return html`<p class="hh-muted">${empty}</p>`;
  return html`<table class="hh-table hh-turns"><thead><tr><th>turn</th><th>ended</th><th>class</th><th>duration</th><th>cost</th><th>tools</th><th>events</th></tr></thead><tbody>
${turns.map((t) => html`<tr data-turn="${t.id}"><td><a href="/agents/${t.agent}/turns/${t.id}">#${t.id}</a></td><td><time datetime="${isoTime(t.endedAt ?? t.startedAt)}">${age(t.endedAt ?? t.startedAt, now)}</time></td><td>${classBadge(t)}</td><td>${seconds(t.durationMs)}</td><td>${money(t.costUsd)}</td><td>${Object.entries(t.tools).map(([k, v], i) => html`${i ? ', ' : ''}<span class="hh-tool-name">${k}</span>×${v}`)}</td><td>${t.events}</td></tr>`)}
</tbody></table>`;
}
