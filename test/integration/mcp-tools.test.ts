// Every MCP tool through the SDK's Client over real HTTP on loopback against a real server:
// identity from the token, manager-only tools, bad inputs naming the field.
import test from 'ava';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { registerManagerTools } from '../../controller/mcp/tools/manager.ts';
import { registerSpawnTools } from '../../controller/mcp/tools/spawn.ts';
import { registerLifecycleTools } from '../../controller/mcp/tools/lifecycle.ts';
import { startServer, type TestServer, agentToken } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';
import { call, connect, ok } from '../helpers/mcp.ts';

let s: TestServer;
const clients: Record<string, Client> = {};

test.before(async () => {
  s = await startServer();
  for (const n of ['manager', 'alpha', 'beta']) {
    const r = await s.api('POST', '/api/agents', { name: n });
    if (r.status !== 201) throw new Error(`create ${n}: ${r.status} ${JSON.stringify(r.body)}`);
    clients[n] = await connect(s.url, agentToken(s.state, n), `test-${n}`);
  }
  clients.operator = await connect(s.url, s.token, 'test-operator');
});

test.after.always(async () => {
  for (const c of Object.values(clients)) await c.close().catch(() => {});
  await s?.close();
});

const { alpha, beta, manager, operator } = new Proxy({} as Record<string, Client>, { get: (_t, k: string) => clients[k] }) as Record<string, Client>;
void alpha; void beta; void manager; void operator;
const c = (n: string): Client => clients[n]!;

const MANAGER_ONLY = ['agent_status', 'apply_commit', 'list_agents', 'request_destroy', 'request_revive', 'request_rollback', 'request_spawn', 'request_spawn_commit', 'request_spawn_draft', 'set_model'];
const EVERYONE = ['propose_change', 'read_config', 'recv', 'send', 'whoami', 'write_notes'];
const REPO_TOOLS = ['propose_change', 'read_config', 'write_notes'];

test.serial('the server is hyperhive and lists the tools each identity may call', async (t) => {
  t.is(c('alpha').getServerVersion()?.name, 'hyperhive');
  for (const who of ['manager', 'operator']) {
    const tools = (await c(who).listTools()).tools;
    t.deepEqual(tools.map((x) => x.name).sort(), [...EVERYONE, ...MANAGER_ONLY].sort(), who);
    for (const tool of tools.filter((x) => REPO_TOOLS.includes(x.name))) t.truthy((tool.inputSchema.properties as Record<string, unknown>).agent, `${who}: ${tool.name} takes agent`);
    t.regex(c(who).getInstructions() ?? '', /Manager only/);
  }
  for (const who of ['alpha', 'beta']) {
    const tools = (await c(who).listTools()).tools;
    t.deepEqual(tools.map((x) => x.name).sort(), EVERYONE, `${who} lists none of the manager's tools`);
    for (const tool of tools) {
      t.true((tool.description ?? '').length > 60, `${tool.name} has a description for a model`);
      t.false(JSON.stringify(tool).includes('Manager only') || MANAGER_ONLY.some((m) => JSON.stringify(tool).includes(m)), `${who}: ${tool.name} says nothing of the manager's tools`);
      t.false('agent' in (tool.inputSchema.properties ?? {}), `${who}: ${tool.name} takes no agent`);
    }
    const told = c(who).getInstructions() ?? '';
    t.regex(told, /propose_change/);
    t.false(/Manager only/.test(told) || MANAGER_ONLY.some((m) => told.includes(m)), `${who}'s instructions name no tool it lacks: ${told}`);
  }
});

test.serial('no token, a wrong token, or a GET: refused before any MCP handling', async (t) => {
  const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } };
  const post = (headers: Record<string, string>) => fetch(`${s.url}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers }, body: JSON.stringify(init) });
  const none = await post({});
  t.is(none.status, 401);
  t.is((await none.json() as any).error.code, 'unauthorized');
  t.regex(none.headers.get('www-authenticate') ?? '', /^Bearer/);
  const wrong = await post({ authorization: 'Bearer not-a-token' });
  t.is(wrong.status, 401);
  const get = await fetch(`${s.url}/mcp`, { headers: { authorization: `Bearer ${agentToken(s.state, 'alpha')}`, accept: 'text/event-stream' } });
  t.is(get.status, 405);
  await t.throwsAsync(connect(s.url, 'bogus-token'));
});

test.serial('send and recv: identity from the token, in order, acked on the next recv', async (t) => {
  for (const body of ['one', 'two', 'three']) await ok(c('alpha'), 'send', { to: 'beta', body });
  // alpha's own inbox does not hold beta's messages, whatever it asks
  t.deepEqual((await ok(c('alpha'), 'recv', {})).messages, []);
  const got = (await ok(c('beta'), 'recv', {})).messages;
  t.deepEqual(got.map((m: any) => [m.from, m.to, m.body, m.redelivered]), [['alpha', 'beta', 'one', false], ['alpha', 'beta', 'two', false], ['alpha', 'beta', 'three', false]]);
  t.is(s.bus.depth('beta'), 3, 'handed out, not yet acked');
  t.deepEqual((await ok(c('beta'), 'recv', {})).messages, []);
  t.is(s.bus.depth('beta'), 0, 'acked by the next recv');
  // the sender is the token's identity: the stored row says alpha
  const sent = await ok(c('alpha'), 'send', { to: 'operator', body: 'hi operator' });
  t.is(s.bus.get(sent.id)?.from, 'alpha');
});

test.serial('recv long-polls and answers as soon as a message arrives', async (t) => {
  const waiting = ok(c('beta'), 'recv', { wait_seconds: 60 }, 90_000);
  await waitFor('beta to be waiting', () => s.bus.waiting('beta') > 0);
  await ok(c('alpha'), 'send', { to: 'beta', body: 'wake up' });
  const got = await waiting;
  t.deepEqual(got.messages.map((m: any) => m.body), ['wake up']);
  t.deepEqual((await ok(c('beta'), 'recv', { wait_seconds: 0 })).messages, []);
});

test.serial('a recv whose client goes away hands nothing out; the message waits for the next recv', async (t) => {
  const gone = await connect(s.url, agentToken(s.state, 'beta'), 'test-beta-gone');
  const pending = call(gone, 'recv', { wait_seconds: 120 }, 150_000).catch((e) => e);
  await waitFor('beta to be waiting', () => s.bus.waiting('beta') > 0);
  await gone.close();
  await waitFor('the abandoned recv to stop waiting', () => s.bus.waiting('beta') === 0);
  await pending;
  await ok(c('alpha'), 'send', { to: 'beta', body: 'after the hang-up' });
  const got = (await ok(c('beta'), 'recv', {})).messages;
  t.deepEqual(got.map((m: any) => [m.body, m.redelivered]), [['after the hang-up', false]]);
  await ok(c('beta'), 'recv', {});
});

test.serial('send refuses bad input naming the field', async (t) => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ body: 'x' }, /\bto\b/],
    [{ to: 'beta' }, /\bbody\b/],
    [{ to: 'beta', body: '' }, /\bbody\b/],
    [{ to: 'beta', body: 42 }, /\bbody\b/],
    [{ to: 'system', body: 'x' }, /^bad_request: to: system/],
    [{ to: 'nobody', body: 'x' }, /to: .*nobody/],
    [{ to: 'Not A Name', body: 'x' }, /to: invalid agent name/],
    [{ to: 'beta', body: 'x'.repeat(70_000) }, /too_large: body: .*70000 bytes.*65536/],
  ];
  for (const [args, re] of cases) {
    const r = await call(c('alpha'), 'send', args);
    t.true(r.isError, JSON.stringify(args).slice(0, 80));
    t.regex(r.text, re);
  }
  t.is(s.bus.depth('beta'), 0, 'nothing was stored');
  for (const [args, re] of [[{ wait_seconds: 301 }, /wait_seconds/], [{ wait_seconds: -1 }, /wait_seconds/], [{ wait_seconds: 'soon' }, /wait_seconds/], [{ wait_seconds: 1.5 }, /wait_seconds/]] as const) {
    const r = await call(c('beta'), 'recv', args);
    t.true(r.isError);
    t.regex(r.text, re);
  }
});

test.serial('whoami: agent, manager, operator', async (t) => {
  const a = await ok(c('alpha'), 'whoami');
  const view = (await s.api('GET', '/api/agents/alpha')).body;
  t.like(a, { name: 'alpha', kind: 'agent', manager: false, state: 'active', applied: view.applied, model: view.model });
  t.true((await ok(c('manager'), 'whoami')).manager);
  t.like(await ok(c('operator'), 'whoami'), { name: 'operator', kind: 'operator' });
});

test.serial('read_config: applied, proposed, live, listing, and what is refused', async (t) => {
  const prompt = await ok(c('alpha'), 'read_config', { path: 'prompt.md' });
  t.like(prompt, { agent: 'alpha', ref: 'applied', path: 'prompt.md', encoding: 'utf8' });
  t.true(prompt.content.length > 0);
  const listing = await ok(c('alpha'), 'read_config', { path: '.', ref: 'proposed' });
  t.true(listing.files.some((f: any) => f.path === 'hyperhive.json'));
  const model = await ok(c('alpha'), 'read_config', { path: 'model', ref: 'live' });
  t.is(model.content.trim(), (await s.api('GET', '/api/agents/alpha')).body.model);
  t.is((await ok(c('alpha'), 'read_config', { path: 'model' })).ref, 'live', 'model and notes.md default to live');
  // the manager reads a sub-agent's repo; a sub-agent may not
  t.is((await ok(c('manager'), 'read_config', { path: 'prompt.md', agent: 'alpha' })).agent, 'alpha');
  // A sub-agent's schema has no agent: naming one is refused, not dropped (which would read its own repo).
  const denied = await call(c('beta'), 'read_config', { path: 'prompt.md', agent: 'alpha' });
  t.true(denied.isError);
  t.regex(denied.text, /read_config: takes only path, ref: it acts on your own repo \(only the manager names another agent\)/);
  t.true((await call(c('beta'), 'read_config', { path: 'prompt.md', agent: 'beta' })).isError, 'not even its own name');
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ path: 'missing.txt' }, /not_found: path: file missing\.txt not found at applied/],
    [{ path: '../etc/passwd' }, /bad_request: path: invalid path/],
    [{ path: 'prompt.md', ref: 'main' }, /\bref\b/],
    [{}, /\bpath\b/],
    [{ path: 'prompt.md', agent: 'ghost' }, /agent: no agent named "ghost"/],
  ];
  for (const [args, re] of cases) {
    const r = await call(c('manager'), 'read_config', args);
    t.true(r.isError, JSON.stringify(args));
    t.regex(r.text, re);
  }
  const op = await call(c('operator'), 'read_config', { path: 'prompt.md' });
  t.regex(op.text, /agent: an operator has no repo of its own/);
});

test.serial('write_notes commits notes.md on live as the agent; others may not', async (t) => {
  const before = (await s.api('GET', '/api/agents/alpha')).body.live;
  const r = await ok(c('alpha'), 'write_notes', { content: '# alpha\nremember this\n', message: 'my notes' });
  t.false(r.unchanged);
  t.not(r.commit, before);
  t.is((await s.api('GET', '/api/agents/alpha')).body.live, r.commit);
  t.is((await ok(c('alpha'), 'read_config', { path: 'notes.md', ref: 'live' })).content, '# alpha\nremember this\n');
  t.true((await ok(c('alpha'), 'write_notes', { content: '# alpha\nremember this\n' })).unchanged);
  const denied = await call(c('beta'), 'write_notes', { content: 'hijack', agent: 'alpha' });
  t.true(denied.isError);
  t.regex(denied.text, /takes only content, message: it acts on your own repo/);
  t.not((await ok(c('beta'), 'read_config', { path: 'notes.md' })).content, 'hijack', 'nor written to its own notes');
  t.is((await ok(c('manager'), 'write_notes', { content: 'from the manager', agent: 'beta' })).agent, 'beta');
  const big = await call(c('alpha'), 'write_notes', { content: 'x'.repeat(1024 * 1024 + 1) });
  t.regex(big.text, /too_large: content is \d+ bytes/);
  t.regex((await call(c('alpha'), 'write_notes', {})).text, /\bcontent\b/);
});

test.serial('propose_change commits on proposed as the caller and names the request; bad files refused', async (t) => {
  const r = await ok(c('alpha'), 'propose_change', { files: { 'prompt.md': 'You are alpha, careful and brief.\n', 'extra/notes.txt': 'config file\n' }, message: 'Sharper prompt' });
  t.truthy(r.request, r.note);
  t.regex(r.note, new RegExp(`request #${r.request.id} waits for operator approval`));
  const a = (await s.api('GET', `/api/approvals/${r.request.id}`)).body;
  t.like(a, { kind: 'change', agent: 'alpha', status: 'pending', head: r.commit, proposer: 'alpha' });
  t.deepEqual([...a.paths].sort(), ['extra/notes.txt', 'prompt.md']);
  t.is((await s.api('GET', '/api/agents/alpha')).body.proposed, r.commit);

  const cases: [Record<string, unknown>, RegExp][] = [
    [{ files: { 'notes.md': 'x' }, message: 'm' }, /files: notes\.md does not belong in the config.*write_notes/],
    [{ files: { model: 'opus' }, message: 'm' }, /files: model does not belong in the config: .*\(the manager or an operator sets it\)/],
    [{ files: { 'nope.txt': null }, message: 'm' }, /not_found: files: cannot delete nope\.txt/],
    [{ files: { 'prompt.md': 'You are alpha, careful and brief.\n' }, message: 'm' }, /conflict: files: nothing changes/],
    [{ files: { 'hyperhive.json': '{"tools": 3}' }, message: 'm' }, /bad_request: files: .*tools/],
    [{ files: { '../escape': 'x' }, message: 'm' }, /files: invalid path/],
    [{ files: {}, message: 'm' }, /files: give at least one path/],
    [{ files: { 'a.txt': 'x' } }, /\bmessage\b/],
    [{ files: { 'a.txt': 5 }, message: 'm' }, /\bfiles\b/],
    [{ files: 'prompt.md', message: 'm' }, /\bfiles\b/],
  ];
  for (const [args, re] of cases) {
    const x = await call(c('alpha'), 'propose_change', args);
    t.true(x.isError, JSON.stringify(args));
    t.regex(x.text, re);
  }
  t.is((await s.api('GET', '/api/agents/alpha')).body.proposed, r.commit, 'no refused call moved proposed');
  const other = await call(c('beta'), 'propose_change', { files: { 'x.txt': 'x' }, message: 'm', agent: 'alpha' });
  t.true(other.isError);
  t.regex(other.text, /takes only files, message: it acts on your own repo/);
  t.regex((await call(c('manager'), 'propose_change', { files: { model: 'opus' }, message: 'm', agent: 'alpha' })).text, /\(use set_model\)/);
  t.regex((await call(c('manager'), 'read_config', { path: 'prompt.md', bogus: 1 })).text, /bogus/, 'strict for the manager too');
});

test.serial('a sub-agent calling a manager-only tool by name gets the unknown-tool error', async (t) => {
  for (const [tool, args] of [['list_agents', {}], ['agent_status', { name: 'beta' }], ['set_model', { name: 'beta', model: 'opus' }],
    ['apply_commit', { name: 'beta', commit: 'abcd', note: 'n' }], ['request_rollback', { name: 'beta', revision: 'abcd' }],
    ['request_spawn', { name: 'sneaky' }], ['request_spawn_draft', { name: 'sneaky' }], ['request_spawn_commit', { name: 'sneaky', commit: 'abcd' }]] as const) {
    const r = await call(c('beta'), tool, args);
    t.true(r.isError, tool);
    t.regex(r.text, new RegExp(`Tool ${tool} not found`));
  }
  t.is((await s.api('GET', '/api/agents/sneaky')).status, 404);
});

test.serial('defence in depth: the manager-only tools, were they registered for a sub-agent, still refuse it', async (t) => {
  // Bypasses buildMcpServer's per-identity registration on purpose, on the real controller.
  const server = new McpServer({ name: 'hyperhive', version: '0' });
  const ctx = { deps: { controller: s.controller, bus: s.bus, spawner: s.spawner, log: s.core.log, baseUrl: () => s.url }, who: { kind: 'agent' as const, name: 'beta' }, signal: new AbortController().signal };
  registerManagerTools(server, ctx);
  registerSpawnTools(server, ctx);
  registerLifecycleTools(server, ctx);
  const [client, served] = InMemoryTransport.createLinkedPair();
  await server.connect(served);
  const direct = new Client({ name: 'direct', version: '0' });
  await direct.connect(client);
  t.teardown(() => direct.close());
  const tools = (await direct.listTools()).tools.map((x) => x.name);
  t.deepEqual([...tools].sort(), MANAGER_ONLY);
  for (const tool of tools) {
    const r = await call(direct, tool, { name: 'beta', model: 'opus', commit: 'abcd', note: 'n', revision: 'abcd' });
    t.regex(r.text, new RegExp(`^forbidden: ${tool} is a manager-only tool: agent beta may not call it`), tool);
  }
});

test.serial('list_agents and agent_status show conditions, inbox and open requests', async (t) => {
  await ok(c('beta'), 'send', { to: 'alpha', body: 'for the inbox count' });
  const { agents } = await ok(c('manager'), 'list_agents');
  const a = agents.find((x: any) => x.name === 'alpha');
  t.truthy(a);
  t.is(a.state, 'active');
  t.true(a.conditions.some((x: any) => x.type === 'Ready'));
  t.true(a.inbox >= 1);
  t.is(a.requests.length, 1);
  t.like(a.requests[0], { kind: 'change', status: 'pending', proposer: 'alpha' });
  const st = await ok(c('manager'), 'agent_status', { name: 'alpha' });
  t.is(st.agent.name, 'alpha');
  t.true(st.requests.some((r: any) => r.id === a.requests[0].id));
  t.true(st.log.length > 0);
  t.regex((await call(c('manager'), 'agent_status', { name: 'ghost' })).text, /agent_not_found/);
  t.regex((await call(c('manager'), 'agent_status', { name: 'Bad Name' })).text, /\bname\b/);
  await ok(c('alpha'), 'recv', {}); await ok(c('alpha'), 'recv', {});
});

test.serial('set_model: the manager sets a sub-agent\'s model, never its own; an operator may', async (t) => {
  const r = await ok(c('manager'), 'set_model', { name: 'beta', model: 'opus' });
  t.is(r.model, 'opus');
  t.is((await s.api('GET', '/api/agents/beta')).body.model, 'opus');
  const own = await call(c('manager'), 'set_model', { name: 'manager', model: 'opus' });
  t.regex(own.text, /^forbidden: name: nobody but an operator sets the manager's model/);
  t.regex((await call(c('manager'), 'set_model', { name: 'beta', model: 'two words' })).text, /\bmodel\b/);
  t.is((await ok(c('operator'), 'set_model', { name: 'manager', model: 'haiku' })).model, 'haiku');
});

test.serial('apply_commit endorses exactly the open request\'s head; decisions reach proposer and manager from system', async (t) => {
  const open = (await s.api('GET', '/api/approvals?status=pending&agent=alpha')).body[0];
  t.truthy(open);
  const wrong = await call(c('manager'), 'apply_commit', { name: 'alpha', commit: open.base, note: 'looks good' });
  t.regex(wrong.text, /^conflict: commit: request #\d+ of alpha is for head/);
  t.regex((await call(c('manager'), 'apply_commit', { name: 'beta', commit: open.head, note: 'x' })).text, /not_found: name: beta has no open change request/);
  t.regex((await call(c('manager'), 'apply_commit', { name: 'alpha', commit: 'xyz', note: 'x' })).text, /\bcommit\b/);
  t.regex((await call(c('manager'), 'apply_commit', { name: 'alpha', commit: open.head })).text, /\bnote\b/);
  const r = await ok(c('manager'), 'apply_commit', { name: 'alpha', commit: open.head.slice(0, 10), note: 'reviewed: the prompt is clearer' });
  t.is(r.request.id, open.id);
  const a = (await s.api('GET', `/api/approvals/${open.id}`)).body;
  t.is(a.status, 'pending', 'endorsing is not approving');
  t.is(a.note, 'manager: reviewed: the prompt is clearer');
  t.like(a.data.endorsement, { by: 'manager', head: open.head });

  await ok(c('manager'), 'recv', {}); await ok(c('manager'), 'recv', {}); // drain
  t.is((await s.api('POST', `/api/approvals/${open.id}/approve`, {})).status, 200);
  const toAlpha = await ok(c('alpha'), 'recv', { wait_seconds: 30 }, 60_000);
  t.true(toAlpha.messages.some((m: any) => m.from === 'system' && m.kind === 'event' && new RegExp(`request #${open.id} .*approved by operator`).test(m.body)));
  const toManager = await ok(c('manager'), 'recv', { wait_seconds: 30 }, 60_000);
  t.true(toManager.messages.some((m: any) => m.from === 'system' && m.body.includes(`#${open.id}`)));
});

test.serial('request_rollback proposes an earlier applied revision as a change request', async (t) => {
  const first = (await s.api('GET', '/api/approvals?agent=alpha&status=approved')).body[0];
  const r = await ok(c('manager'), 'request_rollback', { name: 'alpha', revision: first.base });
  t.truthy(r.request);
  t.like(r.request, { kind: 'change', agent: 'alpha', status: 'pending', head: r.commit, proposer: 'manager' });
  const bad = await call(c('manager'), 'request_rollback', { name: 'alpha', revision: 'deadbeef' });
  t.true(bad.isError);
  t.regex(bad.text, /not_found|no commit/);
  t.regex((await call(c('manager'), 'request_rollback', { name: 'alpha', revision: 'not-hex' })).text, /\brevision\b/);
  t.is((await s.api('POST', `/api/approvals/${r.request.id}/reject`, { reason: 'keep the new prompt' })).status, 200);
  const msgs = await ok(c('manager'), 'recv', { wait_seconds: 30 }, 60_000);
  t.true(msgs.messages.some((m: any) => m.from === 'system' && m.body.includes('rejected') && m.body.includes('keep the new prompt')));
});
