// Outgoing webhooks against local receivers: every event kind, signed as Flux's generic-hmac provider
// signs (checked by the receiver with its own HMAC), a link to the page that acts on it, retries with
// backoff and the failure in the delivery log, the test endpoint, validation, no redirects followed.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { pushByPath, repoOf } from '../helpers/git.ts';
import { createAgents, startServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';
import { startReceiver } from '../helpers/webhook-receiver.ts';

const SECRET = 'a-shared-secret-for-hmac';
const ALL = ['request.created', 'request.decided', 'tool.waiting', 'agent.stalled', 'container.crashed'];

test('every event is delivered, signed, with a link to act on it', async (t) => {
  t.timeout(180_000);
  const rx = await startReceiver(SECRET);
  t.teardown(() => rx.close());
  const s = await startServer({ prefix: 'hh-hooks-', toolTimeoutMs: 60_000, webhooks: { retry: { minMs: 100, maxMs: 400 } } });
  t.teardown(() => s.close());
  await createAgents(s, ['worker']);
  const made = await s.api('POST', '/api/webhooks', { url: rx.url, events: ALL, secret: SECRET });
  t.is(made.status, 201);
  t.deepEqual(Object.keys(made.body).slice(0, 3), ['id', 'url', 'events']);
  t.false(JSON.stringify(made.body).includes(SECRET), 'the secret is never shown back');
  t.false(JSON.stringify((await s.api('GET', '/api/webhooks')).body).includes(SECRET));
  const event = (name: string, pred: (b: any) => boolean = () => true) => waitFor(name, () => rx.got.find((g) => g.event === name && pred(g.body)), 60_000);

  // request.created → request.decided
  const head = pushByPath(repoOf(s.state, 'worker'), { 'prompt.md': 'hooked\n' });
  const created = await event('request.created');
  t.true(created.valid, 'X-Signature verifies with the shared secret');
  t.regex(created.signature!, /^sha256=[0-9a-f]{64}$/);
  t.is(created.headers['content-type'], 'application/json');
  t.is(created.body.agent, 'worker');
  t.is(created.body.data.head, head);
  t.regex(created.body.url, new RegExp(`^${s.url}/approvals/${created.body.data.id}$`));
  t.false(Number.isNaN(Date.parse(created.body.at)));
  t.deepEqual(Object.keys(created.body), ['event', 'agent', 'at', 'url', 'data']);
  await s.api('POST', `/api/approvals/${created.body.data.id}/approve`, {});
  const decided = await event('request.decided', (b) => b.data.id === created.body.data.id);
  t.is(decided.body.data.status, 'approved');
  t.is(decided.body.data.by, 'operator');
  t.true(decided.valid);

  // tool.waiting (and, on its timeout or decision, request.decided)
  const token = fs.readFileSync(path.join(s.state, 'agents', 'worker', 'token'), 'utf8').trim();
  const asked = await s.api('POST', '/api/agents/worker/tool-requests', { tool_name: 'Bash', input: { command: 'make deploy' }, tool_use_id: 'toolu_h1' }, { authorization: `Bearer ${token}` });
  t.is(asked.status, 202);
  const waiting = await event('tool.waiting');
  t.deepEqual(waiting.body.data.tool, { name: 'Bash', input: { command: 'make deploy' } });
  t.is(waiting.body.url, `${s.url}/approvals/${asked.body.id}`);
  t.is(rx.got.filter((g) => g.event === 'request.created' && g.body.data.id === asked.body.id).length, 0, 'a tool call is tool.waiting, not request.created');
  await s.api('POST', `/api/approvals/${asked.body.id}/reject`, { reason: 'no' });
  t.is((await event('request.decided', (b) => b.data.id === asked.body.id)).body.data.kind, 'tool');

  // agent.stalled: a turn that could not log in.
  const turn = { class: 'auth', startedAt: new Date().toISOString(), durationMs: 1, tools: {}, costUsd: 0, usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheCreationTokens: 0 }, numTurns: 0, permissionDenials: 0, model: 'sonnet', sentTo: {}, error: 'Not logged in' };
  t.is((await s.api('POST', '/api/agents/worker/turns', turn, { authorization: `Bearer ${token}` })).status, 201);
  const stalled = await event('agent.stalled');
  t.is(stalled.body.data.reason, 'AuthFailed');
  t.is(stalled.body.url, `${s.url}/agents/worker`);
  await s.api('POST', '/api/agents/worker/turns', turn, { authorization: `Bearer ${token}` });
  t.is(rx.got.filter((g) => g.event === 'agent.stalled').length, 1, 'one notification per stall, not per report');

  // container.crashed: the agent's process killed.
  const pid = await waitFor('a running agent', async () => { const a = (await s.api('GET', '/api/agents/worker')).body; return a.runtime.state === 'running' && a.runtime.pid; }, 60_000);
  process.kill(pid, 'SIGKILL');
  const crashed = await event('container.crashed');
  t.is(crashed.body.agent, 'worker');
  t.regex(crashed.body.data.message, /signal|crash|exit/i);

  const log = (await s.api<any[]>('GET', `/api/webhooks/${made.body.id}/deliveries`)).body;
  t.true(log.length >= 6);
  t.true(log.every((d) => d.status === 'delivered' && d.attempts === 1 && d.log[0].status === 200));
});

test('a failing receiver is retried with backoff and the failure is in the delivery log; test deliveries; no redirects; validation', async (t) => {
  t.timeout(120_000);
  const rx = await startReceiver(SECRET);
  t.teardown(() => rx.close());
  const s = await startServer({ prefix: 'hh-hooks-fail-', webhooks: { retry: { attempts: 3, minMs: 100, maxMs: 400 } } });
  t.teardown(() => s.close());
  await createAgents(s, ['worker']);

  for (const [body, re] of [
    [{ url: 'ftp://x/y', events: ['test'], secret: SECRET }, /only http and https/],
    [{ url: 'http://user:pw@127.0.0.1/x', events: ['test'], secret: SECRET }, /no credentials in the URL/],
    [{ url: rx.url, events: [], secret: SECRET }, /non-empty array/],
    [{ url: rx.url, events: ['request.made'], secret: SECRET }, /unknown "request.made"/],
    [{ url: rx.url, events: ['test'], secret: 'short' }, /secret/],
    [{ events: ['test'], secret: SECRET }, /"url" is required/],
  ] as const) {
    const r = await s.api('POST', '/api/webhooks', body);
    t.is(r.status, 400, JSON.stringify(body));
    t.regex(r.body.error.message, re);
  }

  const hook = (await s.api('POST', '/api/webhooks', { url: rx.url, events: ['request.created'], secret: SECRET })).body;
  rx.status = 500;
  pushByPath(repoOf(s.state, 'worker'), { 'prompt.md': 'retry me\n' });
  const failed = await waitFor('the delivery failed after its attempts', async () => (await s.api<any[]>('GET', `/api/webhooks/${hook.id}/deliveries`)).body.find((d) => d.status === 'failed'), 60_000);
  t.is(failed.attempts, 3);
  t.is(rx.got.filter((g) => g.event === 'request.created').length, 3, 'the receiver saw every attempt');
  t.true(rx.got.every((g) => g.valid), 'each attempt signed');
  t.deepEqual(failed.log.map((a: any) => a.status), [500, 500, 500]);
  t.regex(failed.lastError, /HTTP 500: receiver says no/);
  const gaps = failed.log.slice(1).map((a: any, i: number) => a.at - failed.log[i].at);
  t.true(gaps[0] >= 100 && gaps[1] >= 200, `backoff doubles: ${gaps.join(', ')} ms`);
  t.true(s.controller.logEntries({}).some((e) => e.event === 'webhook-failed' && /failed after 3 attempt/.test(e.message)));

  // The test endpoint answers with the first attempt's outcome, whatever the webhook's events.
  rx.status = 200;
  const sent = await s.api('POST', `/api/webhooks/${hook.id}/test`, {});
  t.is(sent.status, 200);
  t.is(sent.body.status, 'delivered');
  t.is(sent.body.event, 'test');
  const testGot = rx.got.find((g) => g.event === 'test')!;
  t.true(testGot.valid);
  t.is(testGot.body.data.by, 'operator');

  // A redirect is an answer, not an instruction to post elsewhere.
  rx.status = 302;
  rx.location = 'http://169.254.169.254/latest/meta-data';
  const redirected = await s.api('POST', `/api/webhooks/${hook.id}/test`, {});
  t.is(redirected.body.status, 'pending', 'retried later');
  t.regex(redirected.body.lastError, /HTTP 302 \(redirects are not followed\)/);

  t.is((await s.api('DELETE', `/api/webhooks/${hook.id}`)).status, 200);
  t.is((await s.api('GET', `/api/webhooks/${hook.id}/deliveries`)).status, 404);
  t.is((await s.api('POST', '/api/webhooks/0x1/test', {})).status, 400);
});
