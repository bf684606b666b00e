import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, type TestServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * The stats service's sampling passes since `since` (ms): each records the agent's inbox_depth and then,
 * in the same synchronous pass, runs the stuck check, so n points mean n checks have run.
 */
const passesSince = async (s: TestServer, agent: string, since: number): Promise<number[][]> =>
  (await s.api('GET', `/api/stats?agent=${agent}&key=inbox_depth&since=${since}`)).body.points;

test('an agent with waiting messages and no turn for the threshold is Stalled (Stuck); the manager is told once; a turn ends it', async (t) => {
  const s = await startServer({ stats: { sampleMs: 100, stuckMs: 400 } });
  t.teardown(() => s.close());
  for (const name of ['manager', 'worker']) t.is((await s.api('POST', '/api/agents', { name })).status, 201);
  s.bus.send({ from: 'manager', to: 'worker', body: 'please do the thing' });
  const stalled = await waitFor('worker Stalled/Stuck', async () => {
    const c = (await s.api('GET', '/api/agents/worker')).body.conditions.find((x: { type: string; status: string }) => x.type === 'Stalled' && x.status === 'True');
    return c?.reason === 'Stuck' ? c : null;
  }, 60_000);
  const stalledAt = Date.now();
  t.regex(stalled.message, /1 message\(s\) waiting for \d+ min without a turn/);
  // Three more checks of the same episode: still exactly one system message to the manager.
  await waitFor('three more stuck checks', async () => (await passesSince(s, 'worker', stalledAt)).length >= 3);
  const told = s.bus.list({ recipient: 'manager', from: 'system' });
  t.is(told.length, 1);
  t.regex(told[0]!.body, /^Agent worker looks stuck/);
  t.is(told[0]!.kind, 'event');
  const log = (await s.api('GET', '/api/log?agent=worker')).body as { event: string }[];
  t.is(log.filter((e) => e.event === 'stuck').length, 1, 'one stuck log line for the episode');
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
  const stuckMs = 200;
  const s = await startServer({ stats: { sampleMs: 100, stuckMs } });
  t.teardown(() => s.close());
  const created = Date.now();
  t.is((await s.api('POST', '/api/agents', { name: 'idle' })).status, 201);
  // Checks well past the threshold (the agent never took a turn): the positive signal that it could have been flagged.
  const points = await waitFor('three stuck checks past three thresholds', async () => {
    const p = await passesSince(s, 'idle', created);
    return p.filter(([ts]) => ts! >= created + 3 * stuckMs).length >= 3 && p;
  });
  t.false((await s.api('GET', '/api/agents/idle')).body.conditions.some((c: { reason: string }) => c.reason === 'Stuck'));
  t.true(points.every((p) => p[1] === 0), 'inbox depth sampled as 0');
  t.false(((await s.api('GET', '/api/log?agent=idle')).body as { event: string }[]).some((e) => e.event === 'stuck'), 'no stuck log line');
});
