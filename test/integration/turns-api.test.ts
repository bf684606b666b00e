import test from 'ava';
import { randomUUID } from 'node:crypto';
import type { DomainEvent } from '../../controller/events.ts';
import { agentToken, createAgents, startServer, type TestServer } from '../helpers/server.ts';

// The turn transcripts over the real API: the harness's stream (agent token, own name only), the
// report that closes a turn and links its log line, the operators' reads, refusals and pruning.

const report = (transcript?: string) => ({
  class: 'ok', startedAt: new Date().toISOString(), durationMs: 1200, tools: { Bash: 1 }, costUsd: 0.02, numTurns: 2, permissionDenials: 0, model: 'sonnet',
  usage: { inputTokens: 10, outputTokens: 20, cacheReadTokens: 0, cacheCreationTokens: 0 }, sentTo: { peer: 0, operator: 0, manager: 0, system: 0 },
  ...(transcript ? { transcript } : {}),
});
const events = (n: number, text = 'hello') => Array.from({ length: n }, (_, i) => ({ kind: 'text', at: Date.now(), text: `${text} ${i}` }));
const post = (s: TestServer, agent: string, token: string, body: unknown) => s.api('POST', `/api/agents/${agent}/turns/events`, body, { authorization: `Bearer ${token}` });

test('a streamed turn: events stored in order and published one domain event each, closed by its report, linked from its turn log line', async (t) => {
  const s = await startServer({ prefix: 'hh-turns-' });
  t.teardown(() => s.close());
  await createAgents(s, ['alice']);
  const token = agentToken(s.state, 'alice');
  const seen: DomainEvent[] = [];
  s.core.events.subscribe((e) => { if (e.type.startsWith('transcript.')) seen.push(e); });
  const key = randomUUID();
  const startedAt = new Date().toISOString();
  const first = await post(s, 'alice', token, { turn: key, startedAt, events: [
    { kind: 'prompt', at: Date.now(), text: 'do the thing', messages: 1 },
    { kind: 'tool_use', at: Date.now(), id: 'toolu_1', name: 'Bash', input: { command: 'ls -la' } },
  ] });
  t.is(first.status, 201, JSON.stringify(first.body));
  t.like(first.body, { seq: 2, stored: 2, dropped: 0 });
  const id = first.body.turn as number;
  const second = await post(s, 'alice', token, { turn: key, startedAt, events: [{ kind: 'tool_result', at: Date.now(), toolUseId: 'toolu_1', isError: false, content: 'a\nb\n' }] });
  t.like(second.body, { turn: id, seq: 3 });

  const running = (await s.api('GET', '/api/agents/alice/turns')).body as any[];
  t.is(running.length, 1);
  t.like(running[0], { id, status: 'running', events: 3, class: null });
  t.deepEqual(seen.filter((e) => e.type === 'transcript.event').map((e) => (e as any).event.seq), [1, 2, 3]);

  const rep = await s.api('POST', '/api/agents/alice/turns', report(key), { authorization: `Bearer ${token}` });
  t.is(rep.status, 201);
  t.is(rep.body.turn, id, 'the report names the turn it closed');
  const one = (await s.api('GET', `/api/agents/alice/turns/${id}`)).body;
  t.like(one, { id, agent: 'alice', status: 'done', class: 'ok', durationMs: 1200, costUsd: 0.02, model: 'sonnet', tools: { Bash: 1 }, events: 3 });
  t.deepEqual(one.transcript.map((e: any) => [e.seq, e.kind]), [[1, 'prompt'], [2, 'tool_use'], [3, 'tool_result']]);
  t.deepEqual(one.transcript[1].input, { command: 'ls -la' });
  const after = (await s.api('GET', `/api/agents/alice/turns/${id}?after=2`)).body;
  t.deepEqual(after.transcript.map((e: any) => e.seq), [3], 'after= gives only the newer events');
  t.true(seen.some((e) => e.type === 'transcript.finished' && e.turn === id));

  const log = (await s.api('GET', '/api/log?agent=alice')).body as any[];
  t.is(log.find((e) => e.event === 'turn')?.data.turn, id, 'the turn log line names its transcript');

  // A report without a streamed transcript still gets a turn of its own (no events): chart points link to every turn.
  const bare = await s.api('POST', '/api/agents/alice/turns', report(), { authorization: `Bearer ${token}` });
  t.true(bare.body.turn > id);
  t.like((await s.api('GET', `/api/agents/alice/turns/${bare.body.turn}`)).body, { status: 'done', events: 0, transcript: [] });
  const listed = (await s.api('GET', '/api/agents/alice/turns?limit=1')).body as any[];
  t.deepEqual(listed.map((x) => x.id), [bare.body.turn], 'newest first, limited');
  const since = Date.now() + 60_000;
  t.deepEqual((await s.api('GET', `/api/agents/alice/turns?since=${since}`)).body, []);
});

test('turn events: only the agent itself or an operator may post them; only operators read; bad input is named', async (t) => {
  const s = await startServer({ prefix: 'hh-turns-auth-' });
  t.teardown(() => s.close());
  await createAgents(s, ['alice', 'bob']);
  const bob = agentToken(s.state, 'bob');
  const body = { turn: 'k1', startedAt: new Date().toISOString(), events: events(1) };
  const other = await post(s, 'alice', bob, body);
  t.is(other.status, 403);
  t.regex(other.body.error.message, /bob may report only its own turn events, not alice's/);
  const anon = await fetch(`${s.url}/api/agents/alice/turns/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  t.is(anon.status, 401);
  t.is((await s.api('GET', '/api/agents/alice/turns', undefined, { authorization: `Bearer ${bob}` })).status, 403, 'agents do not read transcripts');
  t.is((await s.api('POST', '/api/agents/alice/turns/events', body)).status, 201, 'an operator may post (a harness run by hand)');

  const bad = await post(s, 'bob', bob, { turn: 'has space', startedAt: 'yesterday', events: [{ kind: 'nope', at: 1 }, { kind: 'tool_use', at: 1, name: '' }] });
  t.is(bad.status, 400);
  for (const f of ['turn (', 'startedAt', 'events[0].kind', 'events[1] (tool_use): id, name, input']) t.true(bad.body.error.message.includes(f), `names ${f}: ${bad.body.error.message}`);
  const big = await post(s, 'bob', bob, { turn: 'k2', startedAt: new Date().toISOString(), events: [{ kind: 'text', at: 1, text: 'x'.repeat(600 * 1024) }] });
  t.is(big.status, 413);
  t.is(big.body.error.code, 'too_large');
  t.is((await post(s, 'carol', bob, body)).status, 403);
  const unknown = await s.api('POST', '/api/agents/carol/turns/events', body);
  t.is(unknown.status, 404);
  t.is(unknown.body.error.code, 'agent_not_found');
  t.is((await s.api('GET', '/api/agents/bob/turns/999')).status, 404);
  t.is((await s.api('GET', '/api/agents/bob/turns/0x1')).status, 400);
  t.is((await s.api('GET', '/api/agents/bob/turns?limit=0')).status, 400);
  const badReport = await s.api('POST', '/api/agents/bob/turns', { ...report(), transcript: 'no spaces allowed' }, { authorization: `Bearer ${bob}` });
  t.is(badReport.status, 400);
  t.regex(badReport.body.error.message, /transcript/);
});

test('pruning: the last N turns or the byte budget per agent, whichever is smaller; a turn past the budget keeps its first events and counts the rest', async (t) => {
  const s = await startServer({ prefix: 'hh-turns-prune-', transcripts: { maxTurns: 3, maxBytes: 4000 } });
  t.teardown(() => s.close());
  await createAgents(s, ['alice', 'bob']);
  const token = agentToken(s.state, 'alice');
  const ids: number[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await post(s, 'alice', token, { turn: `turn-${i}`, startedAt: new Date().toISOString(), events: events(2) });
    ids.push(r.body.turn);
    await s.api('POST', '/api/agents/alice/turns', report(`turn-${i}`), { authorization: `Bearer ${token}` });
  }
  t.deepEqual(((await s.api('GET', '/api/agents/alice/turns')).body as any[]).map((x) => x.id), ids.slice(2).reverse(), 'the 3 newest turns are kept');
  t.is((await s.api('GET', `/api/agents/alice/turns/${ids[0]}`)).status, 404, 'a pruned turn is gone');
  t.is(s.core.transcripts.store.bytesOf('bob'), 0, 'other agents untouched');

  // Bytes: a big turn pushes the older ones out, and what does not fit the budget is dropped and counted.
  const big = await post(s, 'alice', token, { turn: 'big', startedAt: new Date().toISOString(), events: events(60, 'x'.repeat(100)) });
  t.true(big.body.dropped > 0, `dropped ${big.body.dropped}`);
  t.true(big.body.stored > 0);
  const left = (await s.api('GET', '/api/agents/alice/turns')).body as any[];
  t.deepEqual(left.map((x) => x.id), [big.body.turn], 'older turns made room for the one that fills the budget');
  t.like(left[0], { events: big.body.stored, dropped: big.body.dropped });
  t.true(left[0].bytes <= 4000);
  t.true(s.core.transcripts.store.bytesOf('alice') <= 4000);
  const warned = (await s.api('GET', '/api/log?agent=alice')).body as any[];
  t.true(warned.some((e) => e.event === 'transcript-truncated'), 'the log says events were not kept');
});
