// The operator's side of the bus over the HTTP API: inbox, answers, messages to agents, depths.
import test from 'ava';
import { toSse } from '../../web/app.ts';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startServer, createAgents, type TestServer, agentToken } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';
import { call, connect, ok } from '../helpers/mcp.ts';

let s: TestServer;
let manager: Client;

test.before(async () => {
  s = await startServer();
  await createAgents(s, ['manager', 'worker']);
  manager = await connect(s.url, agentToken(s.state, 'manager'));
});

test.after.always(async () => {
  await manager?.close().catch(() => {});
  await s?.close();
});

test.serial('operator → agent: stored as from operator, received by the agent', async (t) => {
  const r = await s.api('POST', '/api/agents/worker/messages', { body: 'please report' });
  t.is(r.status, 201);
  t.like(r.body, { from: 'operator', to: 'worker', kind: 'message', body: 'please report' });
  const w = await connect(s.url, agentToken(s.state, 'worker'));
  try {
    const got = (await ok(w, 'recv', {})).messages;
    t.deepEqual(got.map((m: any) => [m.from, m.body]), [['operator', 'please report']]);
    await ok(w, 'recv', {});
  } finally { await w.close(); }
});

test.serial('operator → agent refusals: 404 unknown agent, 400 empty or missing body, 413 over the bus limit, 401/403', async (t) => {
  const unknown = await s.api('POST', '/api/agents/ghost/messages', { body: 'hi' });
  t.is(unknown.status, 404);
  t.is(unknown.body.error.code, 'agent_not_found');
  for (const body of [{ body: '' }, { body: '   ' }, {}, { body: 5 }]) {
    const r = await s.api('POST', '/api/agents/worker/messages', body);
    t.is(r.status, 400, JSON.stringify(body));
    t.regex(r.body.error.message, /body/);
  }
  const big = await s.api('POST', '/api/agents/worker/messages', { body: 'x'.repeat(65_537) });
  t.is(big.status, 413);
  t.is(big.body.error.code, 'too_large');
  t.is((await s.api('POST', '/api/agents/worker/messages', '{not json')).status, 400);
  t.is((await s.api('POST', '/api/agents/worker/messages', { body: 'x' }, { authorization: '' })).status, 401);
  t.is((await s.api('POST', '/api/agents/worker/messages', { body: 'x' }, { authorization: `Bearer ${agentToken(s.state, 'worker')}` })).status, 403);
  t.is(s.bus.depth('worker'), 0, 'nothing refused was stored');
});

test.serial('the manager asks, the operator sees it in the inbox and answers; depths follow', async (t) => {
  const q = await ok(manager, 'send', { to: 'operator', body: 'May I spawn a researcher?' });
  const depths = (await s.api('GET', '/api/inbox/depths')).body;
  t.is(depths.operator, 1);
  t.is(depths.worker, 0, 'every agent is listed, with 0 when empty');
  t.is(depths.manager, 0);

  const inbox = (await s.api('GET', '/api/inbox')).body;
  t.true(Array.isArray(inbox));
  t.like(inbox.at(-1), { id: q.id, from: 'manager', to: 'operator', body: 'May I spawn a researcher?', ackedAt: null });
  t.deepEqual((await s.api('GET', '/api/inbox?unread=1')).body.map((m: any) => m.id), [q.id]);
  t.deepEqual((await s.api('GET', `/api/inbox?since=${q.id}`)).body, []);

  const a = await s.api('POST', `/api/inbox/${q.id}/answer`, { body: 'Yes, go ahead.' });
  t.is(a.status, 201);
  t.like(a.body, { from: 'operator', to: 'manager', kind: 'answer' });
  t.regex(a.body.body, new RegExp(`message #${q.id}.*Yes, go ahead\\.`));
  t.is((await s.api('GET', '/api/inbox/depths')).body.operator, 0, 'answering reads the question');
  t.is((await s.api('GET', '/api/inbox/depths')).body.manager, 1);
  const got = (await ok(manager, 'recv', {})).messages;
  t.like(got[0], { from: 'operator', kind: 'answer' });
  await ok(manager, 'recv', {});

  // the conversation view of an agent: to it and from it
  const conv = (await s.api('GET', '/api/agents/manager/messages')).body;
  t.deepEqual(conv.map((m: any) => m.id), [q.id, a.body.id]);
});

test.serial('inbox ack and answer refusals', async (t) => {
  const one = await ok(manager, 'send', { to: 'operator', body: 'one' });
  const two = await ok(manager, 'send', { to: 'operator', body: 'two' });
  const acked = await s.api('POST', '/api/inbox/ack', { upTo: one.id });
  t.deepEqual(acked.body, { acked: 1, depth: 1 });
  t.deepEqual((await s.api('POST', '/api/inbox/ack', {})).body, { acked: 1, depth: 0 });
  t.is((await s.api('POST', '/api/inbox/ack', { upTo: 'all' })).status, 400);
  t.is((await s.api('GET', '/api/inbox?limit=0')).status, 400);
  t.is((await s.api('GET', '/api/inbox?since=x')).status, 400);

  t.is((await s.api('POST', '/api/inbox/999999/answer', { body: 'x' })).status, 404);
  t.is((await s.api('POST', '/api/inbox/abc/answer', { body: 'x' })).status, 400);
  t.is((await s.api('POST', `/api/inbox/${two.id}/answer`, { body: '' })).status, 400);
  // a message that is not in the operator's inbox cannot be answered from it
  const toWorker = await ok(manager, 'send', { to: 'worker', body: 'private' });
  t.is((await s.api('POST', `/api/inbox/${toWorker.id}/answer`, { body: 'x' })).status, 404);
  // system messages are not answerable
  const sys = s.bus.send({ from: 'system', to: 'operator', kind: 'event', body: 'a crash' });
  const r = await s.api('POST', `/api/inbox/${sys.id}/answer`, { body: 'ok' });
  t.is(r.status, 400);
  t.regex(r.body.error.message, /system/);
  t.is((await s.api('GET', '/api/inbox', undefined, { authorization: `Bearer ${agentToken(s.state, 'manager')}` })).status, 403);
  // an agent may not read the operator's inbox through MCP either: recv is its own
  const w = await connect(s.url, agentToken(s.state, 'worker'));
  try {
    const mine = (await ok(w, 'recv', {})).messages;
    t.false(mine.some((m: any) => m.to === 'operator'));
    t.true((await call(w, 'send', { to: 'system', body: 'x' })).isError);
  } finally { await w.close(); }
});

test.serial('every stored message is a change event for the UI (ids and names, no body)', async (t) => {
  const seen: any[] = [];
  // What the UI's event stream carries: the domain event as web/app.ts maps it.
  const off = s.core.events.subscribe((e) => { const sse = toSse(e); if (sse?.[0] === 'change' && sse[1].what === 'message') seen.push(sse[1]); });
  try {
    const r = await s.api('POST', '/api/agents/worker/messages', { body: 'secret-ish text' });
    const q = await ok(manager, 'send', { to: 'operator', body: 'a question' });
    t.deepEqual(seen, [
      { what: 'message', id: r.body.id, from: 'operator', to: 'worker', kind: 'message', agent: 'worker' },
      { what: 'message', id: q.id, from: 'manager', to: 'operator', kind: 'message', agent: null },
    ]);
  } finally { off(); }
  await s.api('POST', '/api/inbox/ack', {});
  const w = await connect(s.url, agentToken(s.state, 'worker'));
  try { await ok(w, 'recv', {}); await ok(w, 'recv', {}); } finally { await w.close(); }
});

test.serial('an agent process that dies with messages in hand gets them again; the manager is told', async (t) => {
  const pid = await waitFor('worker to run', async () => (await s.controller.getAgent('worker')).runtime.pid);
  while ((await ok(manager, 'recv', {})).messages.length) { /* drain */ }
  const sent = await s.api('POST', '/api/agents/worker/messages', { body: 'do the thing' });
  const w = await connect(s.url, agentToken(s.state, 'worker'));
  try {
    t.deepEqual((await ok(w, 'recv', {})).messages.map((m: any) => [m.id, m.redelivered]), [[sent.body.id, false]]);
    // The real agent process dies mid-turn; its next process recvs only after the runtime saw the exit.
    const exited = new Promise<void>((resolve) => {
      const off = s.core.events.on('runtime', (e) => { if (e.agent === 'worker' && (e.event.type === 'crashed' || e.event.type === 'exited')) { off(); resolve(); } });
    });
    process.kill(pid, 'SIGKILL');
    await exited;
    const again = (await ok(w, 'recv', {})).messages;
    t.deepEqual(again.map((m: any) => [m.id, m.body, m.redelivered]), [[sent.body.id, 'do the thing', true]]);
    const told = (await ok(manager, 'recv', { wait_seconds: 30 }, 60_000)).messages;
    t.true(told.some((m: any) => m.from === 'system' && /^agent worker crashed, signal SIGKILL, at \d{4}-[\d-]+T[\d:.]+Z, revision [0-9a-f]{7}\. The runtime restarts it/.test(m.body)), JSON.stringify(told));
    await ok(w, 'recv', {});
  } finally { await w.close(); }
});
