import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, type TestServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';

const report = (over: Record<string, unknown> = {}) => ({
  class: 'ok', startedAt: new Date().toISOString(), durationMs: 1500, tools: { Bash: 2, mcp__hyperhive__send: 1 }, costUsd: 0.02,
  usage: { inputTokens: 1000, outputTokens: 200, cacheReadTokens: 50, cacheCreationTokens: 10 }, numTurns: 2, permissionDenials: 0,
  model: 'sonnet', sentTo: { peer: 1, operator: 0, manager: 0, system: 0 }, messages: 1, exitCode: 0, ...over,
});

async function withAgents(names: string[]): Promise<TestServer & { tokenOf(n: string): string; turn(n: string, body: unknown, token?: string): Promise<{ status: number; body: any }> }> {
  const s = await startServer();
  for (const name of names) {
    const r = await s.api('POST', '/api/agents', { name });
    if (r.status !== 201) throw new Error(`create ${name}: ${JSON.stringify(r.body)}`);
  }
  const tokenOf = (n: string) => fs.readFileSync(path.join(s.state, 'agents', n, 'token'), 'utf8').trim();
  return {
    ...s, tokenOf,
    turn: (n, body, token = tokenOf(n)) => s.api('POST', `/api/agents/${n}/turns`, body, { authorization: `Bearer ${token}` }),
  };
}

test('turn reports: own token or operator only; bad reports are refused naming the fields; figures land in /api/stats', async (t) => {
  const s = await withAgents(['alice', 'bob']);
  t.teardown(() => s.close());
  t.is((await s.turn('alice', report())).status, 201);
  t.is((await s.turn('alice', report(), s.token)).status, 201, 'an operator may report too');
  const other = await s.turn('alice', report(), s.tokenOf('bob'));
  t.is(other.status, 403);
  t.regex(other.body.error.message, /agent bob may report only its own turns/);
  t.is((await s.turn('alice', report(), 'not-a-token')).status, 401);
  const badRes = await s.turn('alice', { ...report(), costUsd: 'lots', usage: null });
  t.is(badRes.status, 400);
  t.regex(badRes.body.error.message, /costUsd .*usage/);
  t.is((await s.turn('nobody', report(), s.token)).status, 404);
  // an agent token may not read stats
  t.is((await s.api('GET', '/api/stats?agent=alice', undefined, { authorization: `Bearer ${s.tokenOf('alice')}` })).status, 403);

  const turns = await s.api('GET', '/api/stats?agent=alice&key=turns&since=-10m&step=1m');
  t.is(turns.status, 200);
  t.is(turns.body.agent, 'alice');
  t.is(turns.body.key, 'turns');
  t.is(turns.body.step, 60_000);
  t.is(turns.body.points.reduce((n: number, p: [number, number]) => n + p[1], 0), 2);
  const tools = await s.api('GET', '/api/stats?agent=alice&key=tool:Bash');
  t.deepEqual(tools.body.points.map((p: number[]) => p[1]), [2, 2]);
  const all = await s.api('GET', '/api/stats?agent=alice');
  const keys = all.body.series.map((x: { key: string }) => x.key);
  for (const k of ['turns', 'class:ok', 'turn_duration_ms', 'tool_calls', 'cost_usd', 'tokens_input', 'sent:peer', 'tool:mcp__hyperhive__send', 'notes_bytes']) t.true(keys.includes(k), k);
  const notes = all.body.series.find((x: { key: string }) => x.key === 'notes_bytes');
  t.true(notes.points[0][1] > 0, 'notes.md size read from live');
  const since = await s.api('GET', '/api/stats?agent=alice&key=since_last_turn_ms');
  t.is(since.body.points.length, 1);
  t.true(since.body.points[0][1] >= 0);
  const p95 = await s.api('GET', '/api/stats?agent=alice&key=turn_duration_ms&agg=p95&step=1h');
  t.is(p95.body.points[0][1], 1500);

  const log = await s.api('GET', '/api/log?agent=alice');
  t.true(log.body.some((e: { event: string; message: string }) => e.event === 'turn' && /^turn ok in 1\.5 s, \$0\.0200, 3 tool call/.test(e.message)));

  for (const [q, re] of [
    ['', /agent: required/], ['agent=alice&key=no%20spaces', /^key: /], ['agent=alice&since=2&until=1', /since: must be before until/],
    ['agent=alice&step=fast', /step: /], ['agent=alice&agg=mode', /agg: one of/], ['agent=alice&foo=1', /foo: unknown parameter/],
  ] as const) {
    const r = await s.api('GET', `/api/stats?${q}`);
    t.is(r.status, 400, q);
    t.regex(r.body.error.message, re, q);
  }
});

test('an auth turn stalls the agent (AuthFailed) until resume; a missing CLI stalls it (AgentCliMissing) until a turn runs', async (t) => {
  const s = await withAgents(['alice']);
  t.teardown(() => s.close());
  const r = await s.turn('alice', report({ class: 'auth', error: 'Invalid API key · Please run /login', costUsd: 0 }));
  t.is(r.status, 201);
  const stalled = (await s.api('GET', '/api/agents/alice')).body.conditions;
  t.deepEqual(stalled.find((c: { type: string }) => c.type === 'Stalled'), { type: 'Stalled', status: 'True', reason: 'AuthFailed', message: 'Invalid API key · Please run /login' });
  t.is(stalled.find((c: { type: string }) => c.type === 'Ready').status, 'False');
  t.true((await s.api('GET', '/api/agents')).body[0].conditions.some((c: { reason: string }) => c.reason === 'AuthFailed'), 'listing shows it too');
  const log = (await s.api('GET', '/api/log?agent=alice')).body as { event: string; message: string }[];
  t.true(log.some((e) => e.event === 'stalled' && /AuthFailed/.test(e.message)));
  await s.api('POST', '/api/agents/alice/resume');
  const resumed = (await s.api('GET', '/api/agents/alice')).body.conditions;
  t.false(resumed.some((c: { reason: string }) => c.reason === 'AuthFailed'));

  await s.turn('alice', report({ class: 'failure', error: 'agent CLI not found: claude', durationMs: 2, tools: {}, exitCode: null }));
  const missing = (await s.api('GET', '/api/agents/alice')).body.conditions.find((c: { type: string }) => c.type === 'Stalled');
  t.is(missing.reason, 'AgentCliMissing');
  t.regex(missing.message, /claude/);
  await s.turn('alice', report());
  t.false((await s.api('GET', '/api/agents/alice')).body.conditions.some((c: { status: string; type: string }) => c.type === 'Stalled' && c.status === 'True'));
});

test('a new message for an agent stalled on auth clears the stall (the harness tries again)', async (t) => {
  const s = await withAgents(['alice']);
  t.teardown(() => s.close());
  const bus = (s as unknown as { bus?: { send(m: { from: string; to: string; body: string }): unknown } }).bus;
  if (!bus) { t.log('skipped: this build has no bus on the served controller'); t.pass(); return; }
  await s.turn('alice', report({ class: 'auth', error: 'Not logged in' }));
  t.true((await s.api('GET', '/api/agents/alice')).body.conditions.some((c: { reason: string }) => c.reason === 'AuthFailed'));
  // the sampler subscribes to the bus on its first pass (at start)
  bus.send({ from: 'operator', to: 'alice', body: 'try again' });
  await waitFor('AuthFailed cleared by a new message', async () => !(await s.api('GET', '/api/agents/alice')).body.conditions.some((c: { reason: string }) => c.reason === 'AuthFailed'));
  t.pass();
});

test('/metrics: operator only, Prometheus text with turns, tools, durations, cost, tokens, approvals, conditions', async (t) => {
  const s = await withAgents(['alice']);
  t.teardown(() => s.close());
  await s.turn('alice', report());
  await s.turn('alice', report({ class: 'auth', error: 'Not logged in' }));
  t.is((await s.api('GET', '/metrics', undefined, { authorization: '' })).status, 401);
  t.is((await s.api('GET', '/metrics', undefined, { authorization: `Bearer ${s.tokenOf('alice')}` })).status, 403);
  const res = await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${s.token}` } });
  t.is(res.status, 200);
  t.regex(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  // parse the exposition format: name{labels} value
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const ty = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (ty) { types.set(ty[1]!, ty[2]!); continue; }
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    t.truthy(m, `unparseable line: ${line}`);
    samples.set(`${m![1]}${m![2] ?? ''}`, Number(m![3]));
  }
  t.is(samples.get('hyperhive_turns_total{agent="alice",class="ok"}'), 1);
  t.is(samples.get('hyperhive_turns_total{agent="alice",class="auth"}'), 1);
  t.is(samples.get('hyperhive_tool_calls_total{agent="alice",tool="Bash"}'), 4);
  t.is(samples.get('hyperhive_turn_duration_seconds_count{agent="alice"}'), 2);
  t.is(samples.get('hyperhive_turn_duration_seconds_bucket{le="5",agent="alice"}'), 2);
  t.is(samples.get('hyperhive_cost_usd_total{agent="alice"}'), 0.04);
  t.is(samples.get('hyperhive_tokens_total{agent="alice",type="input"}'), 2000);
  t.is(samples.get('hyperhive_messages_sent_total{agent="alice",to="peer"}'), 2);
  t.is(samples.get('hyperhive_approvals_pending'), 0);
  t.is(samples.get('hyperhive_agent_stalled{agent="alice",reason="AuthFailed"}'), 1);
  t.is(samples.get('hyperhive_agents{state="active",type="Stalled",status="True",reason="AuthFailed"}'), 1);
  t.is(types.get('hyperhive_turns_total'), 'counter');
  t.is(types.get('hyperhive_turn_duration_seconds'), 'histogram');
  t.is(types.get('hyperhive_inbox_depth'), 'gauge');
});

test('/fleet renders every agent with its figures; anonymous browsers go to the login page', async (t) => {
  const s = await withAgents(['alice', 'bob']);
  t.teardown(() => s.close());
  await s.turn('bob', report({ costUsd: 0.5 }));
  const res = await fetch(`${s.url}/fleet`, { headers: { authorization: `Bearer ${s.token}` } });
  t.is(res.status, 200);
  const html = await res.text();
  t.regex(html, /<tr data-agent="alice">/);
  t.regex(html, /<tr data-agent="bob">.*\$0\.5000/s);
  t.regex(html, /data-testid="chart-fleet-turns"/);
  const anon = await fetch(`${s.url}/fleet`, { redirect: 'manual' });
  t.is(anon.status, 302);
  t.regex(anon.headers.get('location') ?? '', /^\/login\?next=%2Ffleet/);
});
