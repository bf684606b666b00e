import test from 'ava';
import type { StoredTranscriptEvent, TurnSummary } from '../../controller/transcripts/types.ts';
import { DiffRenderer } from '../../web/views/diff.ts';
import { editPatch } from '../../web/views/edit-diff.ts';
import { transcriptEvent, turnHeader, turnsTable } from '../../web/views/transcript.ts';

// A transcript is the model's and the tools' output: everything in it renders as text.

const XSS = '<script>alert(1)</script><img src=x onerror=alert(2)>';
const ctx = { diffs: new DiffRenderer(), toolNames: new Map([['toolu_1', 'Bash']]) };
const ev = (e: Record<string, unknown>, seq = 1) => transcriptEvent({ at: Date.UTC(2026, 0, 1, 12, 0, 0), seq, ...e } as unknown as StoredTranscriptEvent, ctx).value;

test('script in any field of any event is shown as text, never markup', (t) => {
  const pages = [
    ev({ kind: 'text', text: XSS }),
    ev({ kind: 'thinking', text: XSS }),
    ev({ kind: 'prompt', text: XSS, messages: 1 }),
    ev({ kind: 'tool_use', id: 'x', name: XSS, input: { command: XSS } }),
    ev({ kind: 'tool_use', id: 'x', name: 'Bash', input: { command: XSS, description: XSS } }),
    ev({ kind: 'tool_use', id: 'x', name: 'Edit', input: { file_path: XSS, old_string: XSS, new_string: `${XSS}!` } }),
    ev({ kind: 'tool_use', id: 'x', name: 'Write', input: { file_path: XSS, content: XSS } }),
    ev({ kind: 'tool_result', toolUseId: 'toolu_1', isError: false, content: XSS }),
    ev({ kind: 'error', message: XSS }),
    ev({ kind: 'init', model: XSS, sessionId: XSS, tools: 3, mcpServers: [{ name: XSS, status: XSS }] }),
    ev({ kind: 'result', subtype: XSS, isError: false, costUsd: 0, usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheCreationTokens: 0 }, numTurns: 1, durationMs: 1, text: XSS }),
  ];
  for (const p of pages) {
    t.false(/<script/i.test(p), p);
    t.false(/<img/i.test(p), p);
  }
  t.true(pages[0]!.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
});

test('a Bash call shows its command; an Edit is a diff2html diff; a tool result names its tool; long outputs collapse', (t) => {
  const bash = ev({ kind: 'tool_use', id: 'toolu_1', name: 'Bash', input: { command: 'git status --short', description: 'Show changes' } });
  t.regex(bash, /<pre class="hh-pre hh-cmd" data-testid="bash-command"><span class="hh-prompt" aria-hidden="true">\$ <\/span>git status --short<\/pre>/);
  t.regex(bash, /Show changes/);
  const edit = ev({ kind: 'tool_use', id: 'toolu_2', name: 'Edit', input: { file_path: 'src/a.ts', old_string: 'const a = 1;\nkeep\n', new_string: 'const a = 2;\nkeep\n' } });
  t.regex(edit, /data-testid="edit-diff"/);
  t.regex(edit, /d2h-/, 'rendered by diff2html');
  t.regex(edit, /<code>src\/a\.ts<\/code>/);
  t.regex(edit, /\+1<\/span> <span class="hh-del">−1/);
  const res = ev({ kind: 'tool_result', toolUseId: 'toolu_1', isError: false, content: 'line\n'.repeat(50) });
  t.regex(res, /result of <span class="hh-tool-name">Bash<\/span>/);
  t.regex(res, /<details class="hh-collapsible"><summary>output: 51 lines/);
  t.notRegex(ev({ kind: 'tool_result', toolUseId: 'toolu_1', isError: false, content: 'short' }), /<details/);
  t.regex(ev({ kind: 'tool_result', toolUseId: 'nope', isError: true, content: 'boom' }), /error from a tool/);
  t.regex(ev({ kind: 'text', text: 'x', truncated: 42 }), /42 characters of this event were not kept/);
  t.regex(ev({ kind: 'tool_use', id: 'x', name: 'mcp__hyperhive__send', input: { to: 'worker', body: 'hello' } }), /to <strong>worker<\/strong>/);
  t.regex(ev({ kind: 'tool_use', id: 'x', name: 'Glob', input: { pattern: '**/*.ts' } }), /&quot;pattern&quot;: &quot;\*\*\/\*\.ts&quot;/);
});

test('an Edit as a patch: shared lines are context, changed ones -/+, a MultiEdit one hunk per edit', (t) => {
  t.is(editPatch('a.txt', [{ old: 'a\nb\nc\n', new: 'a\nB\nc\n' }]), 'diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n');
  t.is(editPatch('a', [{ old: '', new: 'x' }]), 'diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -0,0 +1,1 @@\n+x\n');
  const multi = editPatch('m', [{ old: 'x', new: 'y' }, { old: 'p', new: 'q' }]);
  t.is(multi.match(/^@@/gm)?.length, 2);
  t.notRegex(editPatch('evil\nname', [{ old: 'a', new: 'b' }]), /evil\nname/, 'a path cannot add header lines');
});

test('turn header and table: class, figures, link to the transcript; running and interrupted turns say so', (t) => {
  const base: TurnSummary = { id: 7, agent: 'alice', key: 'k', startedAt: 1000, endedAt: 4000, status: 'done', class: 'ok', error: null, model: 'sonnet', durationMs: 3000, costUsd: 0.0123, tools: { Bash: 2, Edit: 1 }, usage: null, messages: 1, events: 9, bytes: 100, dropped: 0 };
  const h = turnHeader(base, 10_000).value;
  t.regex(h, /<a href="\/agents\/alice\/turns\/7" class="hh-turn-link">turn #7<\/a>/);
  t.regex(h, /3\.0 s · \$0\.0123 · model sonnet · 3 tool calls · 9 events/);
  t.regex(turnHeader({ ...base, status: 'running', class: null, endedAt: null }, 10_000).value, />running</);
  t.regex(turnHeader({ ...base, status: 'interrupted', class: null }, 10_000).value, />interrupted</);
  t.regex(turnHeader({ ...base, class: 'failure', error: XSS }, 10_000).value, /&lt;script&gt;/);
  const table = turnsTable([base], 10_000).value;
  t.regex(table, /<a href="\/agents\/alice\/turns\/7">#7<\/a>/);
  t.regex(turnsTable([], 0).value, /No turns yet/);
});
