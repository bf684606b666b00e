// The bus quotas through the real server: an agent's MCP send past the recipient's inbox limit or
// its own send rate is refused with the reason, the recipient's inbox is left as it was, the
// operator's message still gets through, and the operator sees a stat and one log line per pair.
import test from 'ava';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startServer, createAgents, agentToken, type TestServer } from '../helpers/server.ts';
import { call, connect, ok } from '../helpers/mcp.ts';

let s: TestServer;
const clients: Client[] = [];

test.before(async () => {
  // serve() reads the limits from its environment, as `hyperhive serve` does.
  const env = { HYPERHIVE_INBOX_MAX_MESSAGES: '5', HYPERHIVE_SEND_PER_MINUTE: '60', HYPERHIVE_SEND_BURST: '8' };
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try { s = await startServer(); } finally {
    for (const [k, v] of Object.entries(saved)) { if (v === undefined) delete process.env[k]; else process.env[k] = v; }
  }
  await createAgents(s, ['alpha', 'beta', 'gamma', 'o1', 'o2', 'o3', 'o4']);
});
test.after.always(async () => {
  for (const c of clients) await c.close().catch(() => {});
  await s?.close();
});
const client = async (name: string) => { const c = await connect(s.url, agentToken(s.state, name), `quota-${name}`); clients.push(c); return c; };
const inbox = async (name: string) => (await s.api('GET', `/api/agents/${name}/messages?limit=1000`)).body.filter((m: { to: string }) => m.to === name) as { id: number; from: string; body: string }[];

test.serial('a full inbox refuses the agent\'s send naming the limit; the inbox is unchanged; the operator still gets through', async (t) => {
  const alpha = await client('alpha');
  for (let i = 0; i < 5; i++) await ok(alpha, 'send', { to: 'beta', body: `flood ${i}` });
  const before = await inbox('beta');
  t.is(before.length, 5);

  const r = await call(alpha, 'send', { to: 'beta', body: 'one too many' });
  t.true(r.isError);
  t.is(r.text, 'inbox_full: the inbox of beta is full: 5 unread messages, the limit is 5 (HYPERHIVE_INBOX_MAX_MESSAGES); this message was not sent. Wait for beta to read its messages (it does with recv), or tell the operator if it seems stuck');
  await call(alpha, 'send', { to: 'beta', body: 'and another' });
  t.deepEqual(await inbox('beta'), before, 'nothing was added to beta\'s inbox');

  const op = await s.api('POST', '/api/agents/beta/messages', { body: 'operator: stop and report' });
  t.is(op.status, 201, JSON.stringify(op.body));
  const after = await inbox('beta');
  t.is(after.length, 6, 'the operator\'s message got through, past the limit');
  t.is(after.at(-1)!.body, 'operator: stop and report');
  t.is((await s.api('GET', '/api/inbox/depths')).body.beta, 6, 'and counts toward the depth');

  // Reading makes room again.
  const beta = await client('beta');
  t.is((await ok(beta, 'recv', {})).messages.length, 6);
  await ok(beta, 'recv', {});
  await ok(alpha, 'send', { to: 'beta', body: 'room again' });

  // The operator sees it: a bus_refused stat of the sender, one bus-quota warning for the pair.
  const stat = await s.api('GET', '/api/stats?agent=alpha&key=bus_refused&since=-10m&step=1m');
  t.is(stat.status, 200);
  t.is(stat.body.points.reduce((n: number, p: [number, number]) => n + p[1], 0), 2);
  const log = (await s.api('GET', '/api/log?agent=alpha')).body as { level: string; event: string; message: string; data: Record<string, unknown> }[];
  const quota = log.filter((l) => l.event === 'bus-quota');
  t.is(quota.length, 1, 'two refusals, one line: at most one a minute per pair');
  t.is(quota[0]!.level, 'warn');
  t.regex(quota[0]!.message, /^a message from alpha to beta was refused by the inbox depth limit/);
  t.like(quota[0]!.data, { from: 'alpha', to: 'beta', limit: 'inbox_messages' });
});

test.serial('sending faster than the rate is refused with how long to wait; other senders are not held back', async (t) => {
  const gamma = await client('gamma');
  const to = ['o1', 'o2', 'o3', 'o4']; // four inboxes of 5: the rate, not an inbox, is what stops gamma
  const sent: Record<string, string[]> = { o1: [], o2: [], o3: [], o4: [] };
  let refusal = '';
  let n = 0;
  // A burst of 8 passes (plus whatever the time taken refills), then the bucket is empty.
  for (; n < 20 && !refusal; n++) {
    const r = await call(gamma, 'send', { to: to[n % 4], body: `burst ${n}` });
    if (r.isError) refusal = r.text; else sent[to[n % 4]!]!.push(`burst ${n}`);
  }
  t.true(n - 1 >= 8 && n - 1 < 20, `${n - 1} sent before the refusal`);
  t.regex(refusal, /^rate_limited: gamma is sending too fast: the limit is 60 messages a minute in bursts of 8 \(HYPERHIVE_SEND_PER_MINUTE, HYPERHIVE_SEND_BURST\); this message was not sent\. Wait \d+ s before sending again/);
  for (const r of to) t.deepEqual((await inbox(r)).map((m) => m.body), sent[r], `only what was accepted is in ${r}'s inbox`);
  const alpha = await client('alpha');
  await ok(alpha, 'send', { to: 'o4', body: 'alpha has its own bucket' });
});
