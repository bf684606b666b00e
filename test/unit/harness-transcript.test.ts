import test from 'ava';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cap, capInput, promptEvent, resultText, transcriptEventsOf } from '../../controller/harness/transcript.ts';
import { TurnStream } from '../../controller/harness/turn-stream.ts';
import { MAX_TEXT_CHARS, type TranscriptEvent, type TurnEventsBody } from '../../controller/transcripts/types.ts';
import { validateTurnEvents } from '../../controller/transcripts/validate.ts';
import { waitFor } from '../helpers/wait.ts';

const FIX = (name: string) => fileURLToPath(new URL(`../fixtures/stream/${name}`, import.meta.url));
const lines = (name: string) => readFileSync(FIX(name), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

test('stream-json lines become transcript events: init, text, tool uses with their input, tool results, the result', (t) => {
  const evs = lines('ok-tool-calls.jsonl').flatMap((l) => transcriptEventsOf(l, 1000));
  t.deepEqual(evs.map((e) => e.kind), ['init', 'text', 'tool_use', 'tool_result', 'tool_use', 'tool_use', 'tool_result', 'tool_result', 'tool_use', 'tool_use', 'tool_use', 'tool_result', 'tool_result', 'tool_result', 'text', 'result']);
  const bash = evs.find((e) => e.kind === 'tool_use' && e.name === 'Bash') as Extract<TranscriptEvent, { kind: 'tool_use' }>;
  t.deepEqual(bash.input, { command: 'git status' });
  t.is(bash.id, 'toolu_02');
  const res = evs.find((e) => e.kind === 'tool_result' && e.toolUseId === 'toolu_02') as Extract<TranscriptEvent, { kind: 'tool_result' }>;
  t.is(res.content, 'clean');
  t.false(res.isError);
  const result = evs.at(-1) as Extract<TranscriptEvent, { kind: 'result' }>;
  t.like(result, { subtype: 'success', isError: false, costUsd: 0.0421, numTurns: 4 });
  t.is(result.usage.inputTokens, 1200);
  // What the harness makes, the controller takes.
  t.notThrows(() => validateTurnEvents({ turn: 'k', startedAt: new Date().toISOString(), events: evs }));
});

test('errors, thinking, text tool results and unknown blocks', (t) => {
  t.deepEqual(transcriptEventsOf({ type: 'assistant', error: 'authentication_failed', message: { content: [{ type: 'thinking', thinking: 'hmm' }] } }, 5),
    [{ kind: 'error', at: 5, message: 'authentication_failed' }, { kind: 'thinking', at: 5, text: 'hmm' }]);
  t.deepEqual(transcriptEventsOf({ type: 'result', subtype: 'error_during_execution', is_error: true, errors: ['boom'] }, 1).map((e) => e.kind), ['result', 'error']);
  t.deepEqual(transcriptEventsOf({ type: 'stream_event' }, 1), []);
  t.is(resultText([{ type: 'text', text: 'a' }, { type: 'image' }, { type: 'text', text: 'b' }]), 'a\n[image]\nb');
  t.is(resultText('plain'), 'plain');
});

test('long texts and inputs are capped where they are made, and say how much was cut', (t) => {
  t.deepEqual(cap('abcdef', 4), { text: 'abcd', cut: 2 });
  const [long] = transcriptEventsOf({ type: 'user', message: { content: [{ type: 'tool_result', tool_use_id: 'x', content: 'y'.repeat(MAX_TEXT_CHARS + 10) }] } }, 1);
  t.is((long as { content: string }).content.length, MAX_TEXT_CHARS);
  t.is(long!.truncated, 10);
  const edit = capInput({ file_path: 'a.ts', old_string: 'o'.repeat(MAX_TEXT_CHARS), new_string: 'n' });
  t.is((edit.input as { old_string: string }).old_string.length, MAX_TEXT_CHARS / 2, 'each string is capped on its own: the rest of the Edit stays');
  t.is((edit.input as { new_string: string }).new_string, 'n');
  t.true(edit.cut > 0);
  const wide = capInput(Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, 'v'.repeat(20_000)])));
  t.truthy((wide.input as Record<string, string>)['[preview]'], 'an input too long as a whole becomes a preview');
  t.like(promptEvent('p'.repeat(MAX_TEXT_CHARS + 1), 2, 7), { kind: 'prompt', messages: 2, truncated: 1 });
});

test('the turn stream posts in order, one post at a time, and keeps events a failed post did not deliver', async (t) => {
  const posts: TurnEventsBody[] = [];
  let fail = 1;
  let inFlight = 0; let maxInFlight = 0;
  const s = new TurnStream({
    key: 'k1', startedAt: new Date(0), flushMs: 5,
    post: async (b) => {
      inFlight++; maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      if (fail-- > 0) throw new Error('controller restarting');
      posts.push(b);
    },
  });
  for (let i = 0; i < 5; i++) s.push({ kind: 'text', at: i, text: `t${i}` });
  await waitFor('the first try (failed)', () => fail <= 0);
  s.push({ kind: 'text', at: 5, text: 't5' });
  await s.close();
  t.is(maxInFlight, 1);
  const texts = posts.flatMap((p) => p.events.map((e) => (e as { text: string }).text));
  t.deepEqual(texts, ['t0', 't1', 't2', 't3', 't4', 't5'], 'nothing lost or reordered by the failed post');
  t.true(posts.every((p) => p.turn === 'k1' && p.startedAt === new Date(0).toISOString()));
});

test('past its byte budget the stream drops the oldest events and says so; close gives up after its bound', async (t) => {
  const posts: TurnEventsBody[] = [];
  let down = true;
  const logs: string[] = [];
  const s = new TurnStream({
    key: 'k2', startedAt: new Date(), flushMs: 1, maxQueuedBytes: 2000, closeTimeoutMs: 300, log: (l) => logs.push(l),
    post: async (b) => { if (down) throw new Error('down'); posts.push(b); },
  });
  for (let i = 0; i < 100; i++) s.push({ kind: 'text', at: i, text: `event ${i} ${'x'.repeat(50)}` });
  await waitFor('a failed try', () => logs.length > 0);
  down = false;
  await s.close();
  const evs = posts.flatMap((p) => p.events);
  t.is(evs[0]!.kind, 'error');
  t.regex((evs[0] as { message: string }).message, /^\d+ event\(s\) of this turn were dropped/);
  t.is((evs.at(-1) as { text: string }).text.split(' ')[1], '99', 'the newest are kept');
  const s2 = new TurnStream({ key: 'k3', startedAt: new Date(), closeTimeoutMs: 200, log: (l) => logs.push(l), post: () => new Promise(() => {}) });
  s2.push({ kind: 'text', at: 1, text: 'never answered' });
  const t0 = Date.now();
  await s2.close();
  t.true(Date.now() - t0 < 5000, 'close is bounded even when the controller never answers');
  t.true(logs.some((l) => /were not delivered/.test(l)));
});

test('a controller that refuses the events for good (a 4xx) ends the stream at once: no retries, close does not wait', async (t) => {
  let posts = 0;
  const logs: string[] = [];
  const s = new TurnStream({
    key: 'k4', startedAt: new Date(), flushMs: 1, closeTimeoutMs: 60_000, log: (l) => logs.push(l),
    post: async () => { posts++; throw Object.assign(new Error('HTTP 404'), { data: { status: 404 } }); },
  });
  s.push({ kind: 'text', at: 1, text: 'a' });
  await waitFor('the refusal', () => logs.some((l) => /refused this turn's events/.test(l)));
  s.push({ kind: 'text', at: 2, text: 'b' });
  const t0 = Date.now();
  await s.close();
  t.true(Date.now() - t0 < 5000);
  t.is(posts, 1);
});
