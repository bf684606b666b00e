import test from 'ava';
import { readFileSync } from 'node:fs';
import { parseStream, StreamParser } from '../../controller/harness/stream.ts';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/stream/${name}`, import.meta.url), 'utf8');

test('real capture without credentials: init, MCP servers, auth error, result', (t) => {
  const s = parseStream(fixture('real-not-logged-in.jsonl'));
  t.is(s.garbageLines, 0);
  t.is(s.lines, 3);
  t.truthy(s.init);
  t.is(s.init!.sessionId, '5cfd250c-babc-4a30-8c8e-66dc1b491a98');
  t.is(s.init!.version, '2.1.332');
  t.true(s.init!.tools.includes('Bash'));
  t.deepEqual(s.init!.mcpServers, []);
  t.deepEqual(s.assistantErrors, ['authentication_failed']);
  const r = s.result!;
  t.is(r.subtype, 'success');
  t.true(r.isError);
  t.is(r.terminalReason, 'api_error');
  t.is(r.result, 'Not logged in · Please run /login');
  t.is(r.costUsd, 0);
  t.is(r.numTurns, 1);
  t.is(r.durationMs, 223);
  t.deepEqual(r.permissionDenials, []);
  t.is(r.sessionId, s.init!.sessionId);
  t.deepEqual(s.toolCounts, {});
});

test('real capture with an unreachable hyperhive MCP server reports it failed', (t) => {
  const s = parseStream(fixture('real-not-logged-in-mcp-failed.jsonl'));
  t.deepEqual(s.init!.mcpServers, [{ name: 'hyperhive', status: 'failed' }]);
  t.is(s.init!.model, 'claude-sonnet-5-5');
});

test('real capture of a resume of an unknown session: errors kept, no init', (t) => {
  const s = parseStream(fixture('real-resume-not-found.jsonl'));
  t.is(s.init, undefined);
  t.is(s.result!.subtype, 'error_during_execution');
  t.is(s.result!.numTurns, 0);
  t.regex(s.result!.errors[0], /No conversation found with session ID/);
});

test('ok turn with tool calls: counts per tool, send recipients, figures', (t) => {
  const s = parseStream(fixture('ok-tool-calls.jsonl'));
  t.deepEqual(s.toolCounts, { mcp__hyperhive__send: 3, Bash: 1, Read: 1, mcp__hyperhive__write_notes: 1 });
  t.deepEqual(s.sends, ['operator', 'bob', 'manager']);
  t.is(s.toolUses.length, 6);
  t.deepEqual(s.init!.mcpServers, [{ name: 'hyperhive', status: 'connected' }]);
  t.true(s.init!.tools.includes('mcp__hyperhive__send'));
  const r = s.result!;
  t.false(r.isError);
  t.is(r.costUsd, 0.0421);
  t.deepEqual(r.usage, { inputTokens: 1200, outputTokens: 340, cacheReadTokens: 5000, cacheCreationTokens: 800 });
  t.is(r.numTurns, 4);
  t.is(r.permissionDenials.length, 1);
  t.is(r.result, 'All done.');
  t.is(r.terminalReason, 'completed');
});

test('prompt too long and blocking limit', (t) => {
  const p = parseStream(fixture('prompt-too-long.jsonl'));
  t.is(p.result!.terminalReason, 'prompt_too_long');
  t.is(p.result!.result, 'Prompt is too long');
  t.is(p.result!.apiErrorStatus, 400);
  const b = parseStream(fixture('blocking-limit.jsonl'));
  t.is(b.result!.terminalReason, 'blocking_limit');
  t.is(b.result!.result, undefined);
});

test('hang and early exit have no result', (t) => {
  const h = parseStream(fixture('hang.jsonl'));
  t.is(h.result, undefined);
  t.deepEqual(h.toolCounts, { Bash: 1 });
  const e = parseStream(fixture('early-exit.jsonl'));
  t.is(e.result, undefined);
  t.deepEqual(e.sends, ['operator']);
});

test('garbage lines are counted and skipped', (t) => {
  const s = parseStream(fixture('garbage-lines.jsonl'));
  t.is(s.garbageLines, 6);
  t.is(s.lines, 9);
  t.deepEqual(s.toolCounts, { mcp__hyperhive__send: 1 });
  t.deepEqual(s.sends, ['system']);
  t.false(s.result!.isError);
});

test('incremental parsing across chunk boundaries, split multi-byte characters included', (t) => {
  const text = fixture('real-not-logged-in.jsonl');
  const bytes = Buffer.from(text, 'utf8');
  const p = new StreamParser();
  // 7-byte chunks cut lines and the "·" (2 bytes in UTF-8) at arbitrary points.
  for (let i = 0; i < bytes.length; i += 7) p.push(bytes.subarray(i, i + 7));
  const s = p.end();
  t.is(s.garbageLines, 0);
  t.is(s.result!.result, 'Not logged in · Please run /login');
});

test('a last line without a newline is parsed at end()', (t) => {
  const p = new StreamParser();
  p.push('{"type":"result","subtype":"success","is_error":false,"session_id":"s1"}');
  t.is(p.state.result, undefined);
  t.is(p.end().result!.sessionId, 's1');
});
