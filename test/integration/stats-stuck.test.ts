import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, waitFor } from '../helpers/core.ts';

interface BusLike { send(m: { from: string; to: string; body: string }): unknown; list(o: { recipient?: string; from?: string; limit?: number }): { from: string; to: string; kind: string; body: string }[] }

test('an agent with waiting messages and no turn for the threshold is Stalled (Stuck); the manager is told once; a turn ends it', async (t) => {
  const s = await startServer({ stats: { sampleMs: 100, stuckMs: 400 } });
  t.teardown(() => s.close());
  const bus = (s as unknown as { bus?: BusLike }).bus;
  if (!bus) { t.log('skipped: this build has no bus on the served controller'); t.pass(); return; }
  for (const name of ['manager', 'worker']) t.is((await s.api('POST', '/api/agents', { name })).status, 201);
  bus.send({ from: 'manager', to: 'worker', body: 'please do the thing' });
  const stalled = await waitFor(async () => {
    const c = (await s.api('GET', '/api/agents/worker')).body.conditions.find((x: { type: string; status: string }) => x.type === 'Stalled' && x.status === 'True');
    return c?.reason === 'Stuck' ? c : null;
  }, 'worker Stalled/Stuck', 60_000);
  t.regex(stalled.message, /1 message\(s\) waiting for \d+ min without a turn/);
  // several more checks pass: still exactly one system message to the manager
  await new Promise((r) => setTimeout(r, 800));
  const told = bus.list({ recipient: 'manager', from: 'system' });
  t.is(told.length, 1);
  t.regex(told[0]!.body, /^Agent worker looks stuck/);
  t.is(told[0]!.kind, 'event');
  const log = (await s.api('GET', '/api/log?agent=worker')).body as { event: string }[];
  t.true(log.some((e) => e.event === 'stuck'));
  const dash = await fetch(`${s.url}/`, { headers: { authorization: `Bearer ${s.token}`, accept: 'text/html' } });
  t.regex(await dash.text(), /<tr data-agent="worker">[\s\S]*?Stuck/, 'the dashboard shows the badge');

  const token = fs.readFileSync(path.join(s.state, 'agents', 'worker', 'token'), 'utf8').trim();
  const r = await s.api('POST', '/api/agents/worker/turns', {
    class: 'ok', startedAt: new Date().toISOString(), durationMs: 10, tools: {}, costUsd: 0, numTurns: 1, permissionDenials: 0, model: 'sonnet',
    usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheCreationTokens: 0 }, sentTo: { peer: 0, operator: 0, manager: 0, system: 0 },
  }, { authorization: `Bearer ${token}` });
  t.is(r.status, 201);
  // (with messages still waiting, the next episode may start as soon as the threshold passes again,
  // so the end of this one is checked in the log rather than in a racing condition read)
  const after = (await s.api('GET', '/api/log?agent=worker')).body as { event: string; message: string }[];
  t.true(after.some((e) => e.event === 'unstalled' && /^Stuck cleared by a ok turn/.test(e.message)), 'a turn ends the stuck episode');
});

test('an empty inbox is never stuck, however long since the last turn', async (t) => {
  const s = await startServer({ stats: { sampleMs: 100, stuckMs: 200 } });
  t.teardown(() => s.close());
  t.is((await s.api('POST', '/api/agents', { name: 'idle' })).status, 201);
  await new Promise((r) => setTimeout(r, 1000));
  t.false((await s.api('GET', '/api/agents/idle')).body.conditions.some((c: { reason: string }) => c.reason === 'Stuck'));
  const depth = await s.api('GET', '/api/stats?agent=idle&key=inbox_depth');
  const bus = (s as unknown as { bus?: BusLike }).bus;
  if (bus) t.true(depth.body.points.length > 0 && depth.body.points.every((p: number[]) => p[1] === 0), 'inbox depth sampled as 0');
  else t.log('no bus: inbox depth not sampled');
});
