import test from 'ava';
import { parseAgentQuery } from '../../controller/agents/query.ts';
import http from 'node:http';
import Koa from 'koa';
import type { AgentView } from '../../controller/controller.ts';
import { parseSlash } from '../../web/routes/slash.ts';
import { safeEqual, safeNext, SessionStore } from '../../web/session.ts';
import { Broadcaster, formatSse } from '../../web/sse.ts';
import type { Approval } from '../../controller/approvals/store.ts';
import { agentPage } from '../../web/views/agent.ts';
import { approvalPage } from '../../web/views/approval.ts';
import { dashboardPage } from '../../web/views/dashboard.ts';
import { escapeHtml, html, raw } from '../../web/views/html.ts';
import { SizedLru } from '../../web/views/lru.ts';

const XSS = '<script>alert(1)</script>"\'`&';

test('html escapes interpolations unless marked raw; arrays join; null/false vanish', (t) => {
  t.is(html`<p title="${XSS}">${XSS}</p>`.value, '<p title="&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&#96;&amp;">&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&#96;&amp;</p>');
  t.is(html`${raw('<b>x</b>')}${['<', html`<i>`]}${null}${false}${0}`.value, '<b>x</b>&lt;<i>0');
  t.is(escapeHtml(undefined), '');
});

test('slash commands: parsed, or refused naming the known ones', (t) => {
  t.deepEqual(parseSlash('/model opus'), { cmd: 'model', model: 'opus' });
  t.deepEqual(parseSlash('  /rollback abc1234 '), { cmd: 'rollback', rev: 'abc1234' });
  t.deepEqual(parseSlash('/approve'), { cmd: 'approve' });
  t.deepEqual(parseSlash('/SUSPEND'), { cmd: 'suspend' });
  const unknown = t.throws(() => parseSlash('/deploy now'));
  t.regex(unknown!.message, /unknown command "\/deploy"; known commands: \/model <name>, \/approve, \/suspend, \/resume, \/revert, \/rollback <rev>/);
  t.regex(t.throws(() => parseSlash('model opus'))!.message, /start with "\/"/);
  t.regex(t.throws(() => parseSlash(''))!.message, /empty command/);
  t.regex(t.throws(() => parseSlash('/model'))!.message, /expects one argument/);
  t.regex(t.throws(() => parseSlash('/resume now'))!.message, /takes no arguments/);
  t.is((t.throws(() => parseSlash('/model a/b')) as { code?: string }).code, 'invalid_model');
});

test('sessions expire by lifetime and by idleness; destroy ends one; the store is bounded', (t) => {
  let now = 1_000_000;
  const store = new SessionStore({ ttlMs: 10_000, idleMs: 4_000, max: 3, now: () => now });
  const op = { kind: 'operator' as const, name: 'operator' };
  const a = store.create(op);
  t.not(a.id, a.csrf);
  t.true(a.id.length >= 40);
  now += 3_000; t.truthy(store.get(a.id));
  now += 3_000; t.truthy(store.get(a.id), 'use slides the idle limit');
  now += 4_000; t.is(store.get(a.id), null, 'idle too long');
  const b = store.create(op);
  now += 3_500; store.get(b.id); now += 3_500; store.get(b.id); now += 3_500;
  t.is(store.get(b.id), null, 'past its lifetime even when used');
  const ids = [store.create(op), store.create(op), store.create(op), store.create(op)].map((s) => s.id);
  t.is(store.count, 3);
  t.is(store.get(ids[0]), null, 'oldest dropped past max');
  store.destroy(ids[3]);
  t.is(store.get(ids[3]), null);
  t.is(store.get(undefined), null);
});

test('safeEqual and safeNext', (t) => {
  t.true(safeEqual('abc', 'abc'));
  t.false(safeEqual('abc', 'abd'));
  t.false(safeEqual('abc', 'abcd'));
  t.is(safeNext('/agents/x?y=1'), '/agents/x?y=1');
  for (const bad of ['//evil.com', 'https://evil.com', '/\\evil.com', 'agents', '/x\r\nSet-Cookie: a=b', undefined, 5]) t.is(safeNext(bad), '/', String(bad));
});

test('SSE: events are formatted on one data line; a reconnecting client gets what it missed', async (t) => {
  t.is(formatSse({ id: 3, event: 'change\nevil: 1', data: { a: 'x\ny' }, at: 0 }), 'id: 3\nevent: changeevil: 1\ndata: {"a":"x\\ny"}\n\n');
  const b = new Broadcaster({ backlog: 2 });
  b.publish('change', { n: 1 });
  b.publish('change', { n: 2 });
  b.publish('change', { n: 3 });
  t.deepEqual(b.since(1).map((e) => e.data), [{ n: 2 }, { n: 3 }]);
  const app = new Koa();
  app.use(b.handler());
  const server = http.createServer(app.callback()).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const port = (server.address() as { port: number }).port;
  const ac = new AbortController();
  const res = await fetch(`http://127.0.0.1:${port}/`, { headers: { 'last-event-id': '2' }, signal: ac.signal });
  t.is(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
  const reader = res.body!.getReader();
  let text = '';
  const dec = new TextDecoder();
  while (!text.includes('"n":3')) text += dec.decode((await reader.read()).value);
  t.notRegex(text, /"n":2/);
  b.publish('log', { n: 4 });
  while (!text.includes('"n":4')) text += dec.decode((await reader.read()).value);
  t.regex(text, /id: 4\nevent: log\ndata: \{"n":4\}/);
  t.is(b.clients, 1);
  ac.abort();
  b.closeAll();
  await new Promise((r) => server.close(r));
});

test('SizedLru evicts least recently used entries past its byte budget', (t) => {
  const l = new SizedLru<string>(10);
  l.set('a', 'A', 4); l.set('b', 'B', 4);
  l.get('a');
  l.set('c', 'C', 4);
  t.is(l.get('b'), undefined);
  t.is(l.get('a'), 'A');
  l.set('huge', 'H', 11);
  t.is(l.get('huge'), undefined);
  t.true(l.size <= 10);
});

const agent = (over: Partial<AgentView> = {}): AgentView => ({
  name: 'alpha', state: 'active', applied: 'a'.repeat(40), proposed: 'b'.repeat(40), live: 'c'.repeat(40), model: 'sonnet',
  conditions: [{ type: 'Ready', status: 'True', reason: 'Running', message: 'runs <applied>' }],
  runtime: { state: 'running', revision: 'a'.repeat(40), isolated: false, pid: 1, startedAt: 0, restarts: 2, note: 'process runtime: isolates nothing', kind: 'process' },
  suspended: true, kept: false, lastAppliedRevision: null, lastAttemptedRevision: null, history: [], createdAt: 0, createdBy: 'operator',
  ...over,
} as AgentView);

test('dashboard shows conditions, revisions, model, "not isolated", suspended and escapes agent-provided text', (t) => {
  const page = dashboardPage({
    now: 120_000, csrf: 'tok', identity: 'operator',
    agents: [{ agent: agent(), applied: { sha: 'a'.repeat(40), subject: '<b>init</b>', author: 'x', date: 60_000, proposer: 'operator' }, proposed: { sha: 'b'.repeat(40), subject: 'next', author: 'x', date: 60_000, proposer: 'local' }, inboxDepth: 4 }],
    queue: [], drafts: [], log: [{ id: 1, ts: 0, agent: 'alpha', level: 'info', event: 'seen', message: '<i>hi</i>', data: {} }],
  }).value;
  t.regex(page, /hh-cond-ready[^>]*>Ready<\/span> <span class="hh-reason"[^>]*>Running</);
  t.regex(page, /aaaaaaaa<\/code> <span class="hh-subject">&lt;b&gt;init&lt;\/b&gt;/);
  t.regex(page, /by local, <time[^>]*>1m ago/);
  t.regex(page, /model · sonnet/);
  t.regex(page, /not isolated/);
  t.regex(page, /suspended/);
  t.regex(page, /<td>4<\/td>/);
  t.regex(page, /&lt;i&gt;hi&lt;\/i&gt;/);
  t.regex(page, /name="_csrf" value="tok"/);
  t.notRegex(page, /<script>|<b>init|<i>hi/);
});

test('dashboard rows rendered again from the same view still show the age, inbox and selection of this render', (t) => {
  const a = agent();
  const info = (subject: string) => ({ sha: 'a'.repeat(40), subject, author: 'x', date: 60_000, proposer: 'operator' });
  const render = (now: number, inboxDepth: number, subject = 'init', listing = false) => dashboardPage({
    now, csrf: 'tok', identity: 'operator', agents: [{ agent: a, applied: info(subject), proposed: null, inboxDepth }], queue: [], drafts: [], log: [],
    ...(listing ? { listing: { query: parseAgentQuery({}), total: 1, counts: { total: 1, Ready: 1, Stalled: 0, Reconciling: 0, stalledReasons: {}, suspended: 1, active: 1, draft: 0, pending: 0, kept: 0 } } } : {}),
  }).value;
  const row = (page: string) => /<tr data-agent="alpha">[\s\S]*?<\/tr>/.exec(page)![0];
  const first = row(render(120_000, 4));
  t.is(row(render(120_000, 4)), first, 'same inputs, same row');
  t.regex(row(render(3_720_000, 4)), /1h ago/, 'the same view an hour later');
  t.regex(row(render(120_000, 7)), /<td>7<\/td>/);
  t.regex(row(render(120_000, 4, 'renamed')), /renamed/, 'another commit summary');
  t.regex(row(render(120_000, 4, 'init', true)), /hh-select/, 'with the selection column');
  t.regex(row(render(120_000, 4)), /1m ago/);
});

test('agent page: state row, model chip, notes rendered safely, command help', (t) => {
  const page = agentPage({
    now: 70_000, csrf: 'tok', identity: 'operator', agent: agent({ runtime: { ...agent().runtime, startedAt: 5_000 } }), applied: null, proposed: null,
    notes: '# Memory\n\n- <script>x</script>', open: [], log: [], messaging: true, inboxDepth: 0,
    commands: [{ usage: '/model <name>', help: 'set model' }],
  }).value;
  t.regex(page, /uptime<\/span> 1m 5s/);
  t.regex(page, /restarts<\/span> 2/);
  t.regex(page, /data-testid="model-chip">model · sonnet/);
  t.regex(page, /<h1>Memory<\/h1>/);
  t.regex(page, /<li>&lt;script&gt;x&lt;\/script&gt;<\/li>/);
  t.regex(page, /<code>\/model &lt;name&gt;<\/code>/);
  t.regex(page, /action="\/agents\/alpha\/message"/);
});

test('approval page: the config verdict (evaluates, does not evaluate with its error, being evaluated, checks off); approve disabled when it does not evaluate', (t) => {
  const base: Approval = {
    id: 7, kind: 'change', agent: 'alpha', base: 'a'.repeat(40), head: 'b'.repeat(40), status: 'pending', paths: ['agent.nix'], proposer: 'local',
    createdAt: 0, decidedBy: null, decidedAt: null, reason: null, patchHash: 'h', supersededBy: null, note: null, error: null, data: {},
  };
  const render = (a: Partial<Approval>, configChecks = true) => approvalPage({
    now: 1000, csrf: 'tok', identity: 'operator', approval: { ...base, ...a }, agent: null, commits: [], diff: null, stale: null, votes: [], configChecks,
  }).value;
  const verdict = (p: string) => /data-testid="config-check">([\s\S]*?)<\/(p|div)>/.exec(p)?.[1] ?? null;
  const approveTag = (p: string) => /<button[^>]*data-testid="approve"[^>]*>/.exec(p)?.[0] ?? '';

  const ok = render({ data: { configCheck: 'ok' } });
  t.is(verdict(ok), 'Config evaluates: checked as the agent will load it.');
  t.notRegex(approveTag(ok), /disabled/);

  const failed = render({ data: { configCheck: 'failed' }, error: `config does not evaluate: attribute 'allow' ${XSS}` });
  t.regex(verdict(failed) ?? '', /Config does not evaluate:<\/strong> <code>attribute &#39;allow&#39; &lt;script&gt;/);
  t.regex(verdict(failed) ?? '', /Approving it is refused/);
  t.regex(failed, /role="alert" data-testid="config-check"/);
  t.regex(approveTag(failed), /disabled title="the proposed config does not evaluate"/);
  t.notRegex(failed, /<script>alert/);

  t.is(verdict(render({})), 'Config is being evaluated…');
  t.regex(verdict(render({}, false)) ?? '', /not evaluated: this controller runs without config checks/);
  t.is(verdict(render({ status: 'approved', decidedBy: 'operator', decidedAt: 500, data: { configCheck: 'ok', applied: true } })), 'Config evaluates: checked as the agent will load it.');
  t.is(verdict(render({ status: 'superseded' })), null, 'a closed request without a verdict says nothing about it');
  t.is(verdict(render({ kind: 'spawn', base: null, head: null })), null, 'only change requests carry a config verdict');
});

test('approval queue: a request whose config does not evaluate is marked, with the error as its title', (t) => {
  const row = (id: number, data: Record<string, unknown>, error: string | null = null) => ({
    approval: { id, kind: 'change', agent: 'alpha', base: 'a'.repeat(40), head: 'b'.repeat(40), status: 'pending', paths: ['agent.nix'], proposer: 'local', createdAt: 0, decidedBy: null, decidedAt: null, reason: null, patchHash: 'h', supersededBy: null, note: null, error, data } as Approval,
    added: 1, deleted: 0,
  });
  const page = dashboardPage({ now: 1000, csrf: 'tok', identity: 'operator', agents: [], queue: [row(1, { configCheck: 'ok' }), row(2, { configCheck: 'failed' }, `config does not evaluate: ${XSS}`), row(3, {})], drafts: [], log: [] }).value;
  const cells = (id: number) => new RegExp(`<tr data-approval="${id}">[\\s\\S]*?</tr>`).exec(page)?.[0] ?? '';
  t.notRegex(cells(1), /config-failed/);
  t.notRegex(cells(3), /config-failed/);
  t.regex(cells(2), /data-testid="config-failed" title="config does not evaluate: &lt;script&gt;[^"]*">config does not evaluate<\/span>/);
});
