// Destroy, revive and purge against a real server (process runtime, idle agents), with git over HTTP,
// MCP and the API each tried with the agent's token.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { gitCli, pushByPath, refs, repoOf } from '../helpers/git.ts';
import { agentToken, createAgents, startServer, type TestServer } from '../helpers/server.ts';
import { call, connect, ok } from '../helpers/mcp.ts';
import { openTerminal } from '../helpers/terminal.ts';
import { waitFor } from '../helpers/wait.ts';

let s: TestServer;
let manager: Client;

test.before(async () => {
  s = await startServer({ prefix: 'hh-life-' });
  await createAgents(s, ['manager', 'worker', 'scout', 'helper']);
  manager = await connect(s.url, agentToken(s.state, 'manager'), 'test-manager');
});
test.after.always(async () => {
  await manager?.close().catch(() => {});
  await s?.close();
});

const agent = async (name: string) => (await s.api('GET', `/api/agents/${name}`)).body;
const running = (name: string) => waitFor(`${name} running`, async () => { const a = await agent(name); return a.state === 'active' && a.runtime.state === 'running' && a.runtime.pid ? a : null; });
const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true; } catch { return false; } };
const gitWith = (name: string, token: string) => gitCli(['ls-remote', `http://x:${encodeURIComponent(token)}@${s.url.replace(/^http:\/\//, '')}/git/${name}.git`], { env: { GIT_TERMINAL_PROMPT: '0' } });
const mcpStatus = async (token: string): Promise<number> => (await fetch(`${s.url}/mcp`, {
  method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
  body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
})).status;
const turnStatus = async (name: string, token: string): Promise<number> => (await s.api('POST', `/api/agents/${name}/turns`, {}, { authorization: `Bearer ${token}` })).status;
const logEvents = async (name: string): Promise<string[]> => ((await s.api('GET', `/api/log?agent=${name}&limit=5000`)).body as { event: string }[]).map((e) => e.event);

test.serial('destroy: token refused on git, MCP and API at once; runtime gone; repo and state intact; listed as kept', async (t) => {
  const before = await running('worker');
  const token = agentToken(s.state, 'worker');
  // What works before: the same three calls, so a refusal after is the destroy's doing.
  t.is((await gitWith('worker', token)).code, 0, 'git works with the token before');
  t.is(await mcpStatus(token), 200, 'MCP works before');
  t.not(await turnStatus('worker', token), 401, 'the API takes the token before');
  const stateFile = path.join(s.state, 'agents', 'worker', 'state', 'memory.txt');
  fs.writeFileSync(stateFile, 'remember me\n'.repeat(100));
  // An extra branch: every branch is kept, not only the three.
  const repo = repoOf(s.state, 'worker');
  await gitCli(['update-ref', 'refs/heads/scratch', before.applied], { cwd: repo });
  // An open change request: it cannot be carried out on a kept agent, so the destroy expires it.
  const head = pushByPath(repo, { 'prompt.md': 'a change waiting for approval\n' });
  const change = await waitFor('the change request', async () => ((await s.api('GET', '/api/approvals?agent=worker&status=pending')).body as any[]).find((a) => a.head === head));
  const refsBefore = await refs(repo);
  // A call in flight (a long-polling recv) ends with the destroy.
  const recvStarted = Date.now();
  const recv = fetch(`${s.url}/mcp`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'recv', arguments: { wait_seconds: 50 } } }),
  }).then((res) => res.text()).then(() => Date.now() - recvStarted, () => Date.now() - recvStarted);
  await waitFor('the recv to wait', () => s.bus.waiting('worker') > 0);

  // A terminal open into it ends with it.
  const term = await openTerminal(s.url, 'worker', { token: s.token });
  await term.message('hello', 30_000);

  const r = await s.api('POST', '/api/agents/worker/destroy', { reason: 'done with it' });
  t.is(r.status, 200, JSON.stringify(r.body));
  t.like(r.body, { name: 'worker', state: 'kept', kept: true });
  t.like(r.body.destroyed, { by: 'operator', applied: before.applied, reason: 'done with it' });
  t.true(r.body.destroyed.stateBytes >= 1200, `state size counted: ${r.body.destroyed.stateBytes}`);

  const git = await gitWith('worker', token);
  t.not(git.code, 0, 'git refuses the token');
  t.regex(git.stderr, /401|Authentication failed|could not read/i);
  t.is(await mcpStatus(token), 401, 'MCP refuses the token');
  t.is(await turnStatus('worker', token), 401, 'the API refuses the token');
  t.false(fs.existsSync(path.join(s.state, 'agents', 'worker', 'token')), 'the token file is gone');
  t.true(await recv < 40_000, 'the recv in flight (waiting up to 50 s) ended with the destroy');
  // The runtime ends its PTYs with the agent (exited) or the session sees the stop (stopped).
  t.true(['stopped', 'exited'].includes((await term.message('ended', 30_000)).reason));
  await term.close();

  await waitFor('the agent process to be gone', () => !alive(before.runtime.pid));
  const kept = await agent('worker');
  t.true(['none', 'stopped'].includes(kept.runtime.state), kept.runtime.state);
  t.is(fs.readFileSync(stateFile, 'utf8'), 'remember me\n'.repeat(100), 'state kept');
  t.deepEqual(await refs(repo), refsBefore, 'every branch kept as it was');

  const listed = (await s.api('GET', '/api/agents')).body as { name: string }[];
  t.false(listed.some((a) => a.name === 'worker'), 'not in the running fleet');
  const all = (await s.api('GET', '/api/agents?all=1')).body as any[];
  t.like(all.find((a) => a.name === 'worker'), { state: 'kept', kept: true, destroyed: { by: 'operator' } });
  const events = await logEvents('worker');
  for (const e of ['destroy-started', 'destroyed']) t.true(events.includes(e), `log has ${e}`);
  t.true(((await s.api('GET', '/api/audit?agent=worker')).body as any[]).some((a) => a.action === 'destroy' && a.head === before.applied));
  const create = await s.api('POST', '/api/agents', { name: 'worker' });
  t.is(create.status, 409);
  t.regex(create.body.error.message, /already exists \(destroyed, kept\): revive it, or purge it to use the name again/);
  // Suspending (or resuming) a destroyed agent is refused by the policy, and changes nothing.
  for (const op of ['suspend', 'resume']) {
    const r = await s.api('POST', `/api/agents/worker/${op}`, {});
    t.is(r.status, 409, op);
    t.regex(r.body.error.message, /agent worker was destroyed \(kept\): there is nothing to suspend or resume; revive it first/);
  }
  t.false(((await s.api('GET', '/api/agents?all=1')).body as any[]).find((a) => a.name === 'worker').suspended);
  // A second destroy says it was destroyed already.
  t.like((await s.api('GET', `/api/approvals/${change.id}`)).body, { status: 'expired', reason: 'agent worker was destroyed by operator' });
  const again = await s.api('POST', '/api/agents/worker/destroy', {});
  t.is(again.status, 409);
  t.regex(again.body.error.message, /destroyed already/);
});

test.serial('revive through approval: running at the same applied revision with its old state and a new token', async (t) => {
  const kept = await agent('worker');
  const oldToken = fs.readFileSync(path.join(s.state, 'agents', 'worker', 'state', 'memory.txt'), 'utf8');
  const r = await s.api('POST', '/api/agents/worker/revive', {});
  t.is(r.status, 201, JSON.stringify(r.body));
  t.like(r.body, { kind: 'revive', agent: 'worker', status: 'pending', base: null, head: kept.applied, proposer: 'operator' });
  t.true(r.body.data.stateBytes >= 1200);
  t.true(r.body.paths.includes('hyperhive.json'));
  t.truthy(r.body.data.surface, 'the request carries the surface that will start');
  t.is((await agent('worker')).state, 'kept', 'still kept until approved');
  t.is((await s.api('POST', '/api/agents/worker/revive', {})).status, 409, 'one open revive request');

  const approved = await s.api('POST', `/api/approvals/${r.body.id}/approve`, {});
  t.is(approved.status, 200, JSON.stringify(approved.body));
  const back = await running('worker');
  t.is(back.runtime.revision, kept.applied, 'runs the applied revision it was destroyed at');
  t.is(back.applied, kept.applied, 'applied did not move');
  t.is(fs.readFileSync(path.join(s.state, 'agents', 'worker', 'state', 'memory.txt'), 'utf8'), oldToken, 'its state files are there');
  // The change still on proposed is raised again, as a new request.
  const raised = await waitFor('the change raised again', async () => ((await s.api('GET', '/api/approvals?agent=worker&status=pending')).body as any[]).find((a) => a.kind === 'change' && a.base === kept.applied && a.head === kept.proposed));
  t.true(raised.id > r.body.id);
  const newToken = agentToken(s.state, 'worker');
  t.is(await mcpStatus(newToken), 200, 'the new token works');
  t.is((await gitWith('worker', newToken)).code, 0, 'git with the new token');
  const events = await logEvents('worker');
  for (const e of ['revive-requested', 'approved', 'revived', 'apply-succeeded']) t.true(events.includes(e), `log has ${e}`);
  t.true(((await s.api('GET', '/api/audit?agent=worker')).body as any[]).some((a) => a.action === 'approve-revive' && a.head === kept.applied));
});

test.serial('the old token stays refused after a revive', async (t) => {
  // destroy and capture the token first, then revive: the token before the destroy never works again.
  await running('helper');
  const old = agentToken(s.state, 'helper');
  t.is((await s.api('POST', '/api/agents/helper/destroy', {})).status, 200);
  const rv = await s.api('POST', '/api/agents/helper/revive', {});
  t.is((await s.api('POST', `/api/approvals/${rv.body.id}/approve`, {})).status, 200);
  await running('helper');
  const fresh = agentToken(s.state, 'helper');
  t.not(fresh, old);
  t.is(await mcpStatus(old), 401, 'MCP refuses the old token');
  t.is(await turnStatus('helper', old), 401, 'the API refuses the old token');
  t.not((await gitWith('helper', old)).code, 0, 'git refuses the old token');
  t.is(await mcpStatus(fresh), 200);
});

test.serial('purge: refused unless destroyed and confirmed; then repo and state gone, audited, log kept; the name is free', async (t) => {
  const active = await s.api('DELETE', '/api/agents/scout?confirm=scout');
  t.is(active.status, 409, 'an active agent is not purged');
  t.regex(active.body.error.message, /only a destroyed \(kept\) agent can be purged; destroy it first/);
  t.is((await s.api('POST', '/api/agents/scout/destroy', {})).status, 200);
  const applied = (await agent('scout')).applied;
  const missing = await s.api('DELETE', '/api/agents/scout');
  t.is(missing.status, 400);
  t.regex(missing.body.error.message, /confirm: .*confirm=scout/);
  const wrong = await s.api('DELETE', '/api/agents/scout?confirm=scot');
  t.is(wrong.status, 400);
  t.regex(wrong.body.error.message, /"scot" is not the agent's name "scout"; nothing was deleted/);
  t.true(fs.existsSync(repoOf(s.state, 'scout')), 'nothing deleted by the refusals');
  const byManager = await s.api('DELETE', '/api/agents/scout?confirm=scout', undefined, { authorization: `Bearer ${agentToken(s.state, 'manager')}` });
  t.is(byManager.status, 403, 'the manager cannot purge');

  const waiting = await s.api('POST', '/api/agents/scout/revive', {});
  t.is(waiting.status, 201);
  const r = await s.api('DELETE', '/api/agents/scout?confirm=scout');
  t.is(r.status, 200, JSON.stringify(r.body));
  t.like((await s.api('GET', `/api/approvals/${waiting.body.id}`)).body, { status: 'expired', reason: 'agent scout was purged by operator' }, 'its open revive request expired');
  t.like(r.body, { agent: 'scout', applied });
  t.false(fs.existsSync(repoOf(s.state, 'scout')), 'repo gone');
  t.false(fs.existsSync(path.join(s.state, 'agents', 'scout')), 'state dir gone');
  t.is((await s.api('GET', '/api/agents/scout')).status, 404);
  const audit = (await s.api('GET', '/api/audit?agent=scout')).body as any[];
  t.true(audit.some((a) => a.action === 'purge' && a.head === applied && a.actor === 'operator'), 'audited with the final applied SHA');
  t.true(audit.some((a) => a.action === 'destroy'), 'the earlier audit rows stay');
  const events = await logEvents('scout');
  for (const e of ['agent-created', 'destroyed', 'purge-started', 'purged']) t.true(events.includes(e), `log keeps ${e}`);
  t.false(events.includes('reconcile-error'), 'the loop takes the purge in its stride');

  // The manager is told of an operator's own destroy and purge.
  const heard: string[] = [];
  await waitFor('the manager told of the purge', async () => {
    heard.push(...((await ok(manager, 'recv', { wait_seconds: 5 }, 30_000)).messages as any[]).filter((m) => m.from === 'system').map((m) => m.body as string));
    return heard.some((b) => b.startsWith('agent scout was purged by operator'));
  });
  t.true(heard.some((b) => b.startsWith('agent scout was destroyed by operator')), heard.join(' | '));
  const again = await s.api('POST', '/api/agents', { name: 'scout' });
  t.is(again.status, 201, 'the name can be created again');
  t.like(again.body, { state: 'active', kept: false, destroyed: null });
  t.false(fs.existsSync(path.join(s.state, 'agents', 'scout', 'state', 'memory.txt')));
});

test.serial("manager's request_destroy waits for the operator; rejection leaves it running; approval destroys", async (t) => {
  const before = await running('helper');
  const r = await ok(manager, 'request_destroy', { name: 'helper', reason: 'idle for a week' });
  t.like(r.request, { kind: 'destroy', agent: 'helper', status: 'pending', proposer: 'manager' });
  t.regex((await call(manager, 'request_destroy', { name: 'helper' })).text, /conflict: .*already has destroy request/);
  const pending = (await s.api('GET', '/api/approvals?status=pending&agent=helper')).body as any[];
  t.true(pending.some((a) => a.id === r.request.id && a.kind === 'destroy'));
  // Nothing happened: settled, it still runs the same process.
  const still = await agent('helper');
  t.like(still, { state: 'active' });
  t.is(still.runtime.pid, before.runtime.pid);
  t.true((await logEvents('helper')).includes('destroy-requested'));

  const rej = await s.api('POST', `/api/approvals/${r.request.id}/reject`, { reason: 'still needed' });
  t.is(rej.status, 200);
  await waitFor('the rejection logged', async () => (await logEvents('helper')).includes('destroy-rejected'));
  const after = await agent('helper');
  t.like(after, { state: 'active' });
  t.is(after.runtime.pid, before.runtime.pid, 'the same process runs on');
  t.true(alive(before.runtime.pid));

  const r2 = await ok(manager, 'request_destroy', { name: 'helper' });
  t.is((await s.api('POST', `/api/approvals/${r2.request.id}/approve`, {})).status, 200);
  const kept = await agent('helper');
  t.like(kept, { state: 'kept', destroyed: { by: 'operator', requestedBy: 'manager', approvalId: r2.request.id } });
  await waitFor('the process gone', () => !alive(before.runtime.pid));
  // The manager is told, from system.
  const told = await ok(manager, 'recv', { wait_seconds: 30 }, 60_000);
  t.true(told.messages.some((m: any) => m.from === 'system' && m.body.includes(`destroy request #${r2.request.id} for helper was approved by operator: helper is destroyed`)), JSON.stringify(told.messages.map((m: any) => m.body)));
  // and the manager asks for a revive
  const rv = await ok(manager, 'request_revive', { name: 'helper' });
  t.like(rv.request, { kind: 'revive', status: 'pending', proposer: 'manager', head: kept.applied });
  t.is((await agent('helper')).state, 'kept');
});

test.serial('the manager cannot purge or act on itself; a sub-agent has none of these tools', async (t) => {
  t.regex((await call(manager, 'request_destroy', { name: 'manager' })).text, /forbidden: name: no agent may destroy the manager/);
  t.regex((await call(manager, 'request_revive', { name: 'manager' })).text, /forbidden: name: no agent may revive the manager/);
  const tools = (await manager.listTools()).tools.map((x) => x.name);
  t.true(tools.includes('request_destroy') && tools.includes('request_revive'));
  t.false(tools.some((x) => /purge/.test(x)), 'no purge tool');
  const mtoken = agentToken(s.state, 'manager');
  t.is((await s.api('POST', '/api/agents/worker/destroy', {}, { authorization: `Bearer ${mtoken}` })).status, 403, 'the manager cannot destroy through the API');
  t.is((await s.api('POST', '/api/agents/helper/revive', {}, { authorization: `Bearer ${mtoken}` })).status, 403);
  await running('worker');
  const sub = await connect(s.url, agentToken(s.state, 'worker'), 'test-sub');
  try {
    const subTools = (await sub.listTools()).tools.map((x) => x.name);
    t.false(subTools.includes('request_destroy') || subTools.includes('request_revive'));
    const r = await call(sub, 'request_destroy', { name: 'scout' }).catch((e: Error) => ({ isError: true, text: e.message }));
    t.true(r.isError);
    t.regex(r.text, /not found|request_destroy/i);
  } finally { await sub.close().catch(() => {}); }
  t.is((await agent('manager')).state, 'active');
});

test.serial('renaming is not supported, and the error says so', async (t) => {
  const r = await s.api('PATCH', '/api/agents/worker', { name: 'worker2' });
  t.is(r.status, 400);
  t.regex(r.body.error.message, /^renaming is not supported/);
  const r2 = await s.api('POST', '/api/agents/worker/rename', { name: 'worker2' });
  t.is(r2.status, 400);
  t.regex(r2.body.error.message, /^renaming is not supported/);
  t.is((await agent('worker')).name, 'worker');
});
