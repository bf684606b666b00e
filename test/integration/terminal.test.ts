import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { CSRF_PROTOCOL_PREFIX, SUBPROTOCOL } from '../../web/terminal/protocol.ts';
import { agentProcesses } from '../helpers/cli-server.ts';
import { agentToken, createAgents, loginSession, startServer, type TestServer } from '../helpers/server.ts';
import { openTerminal, refusedWith } from '../helpers/terminal.ts';
import { waitFor } from '../helpers/wait.ts';

// The terminal's WebSocket against a real server and the process runtime's real PTYs: who may open
// it, what a refused one says, one writer and read-only viewers, the restored screen, slash commands
// at the prompt, the ends (revision change, idle) and their audit rows.

async function server(t: { teardown(fn: () => Promise<void>): void }, o: Parameters<typeof startServer>[0] = {}): Promise<TestServer> {
  const s = await startServer({ prefix: 'hh-term-', ...o });
  t.teardown(() => s.close());
  await createAgents(s, ['alice']);
  await waitFor('alice running', async () => (await s.api('GET', '/api/agents/alice')).body.runtime.state === 'running');
  return s;
}

test('only operators, from this origin, with the CSRF token when by cookie, may open a terminal', async (t) => {
  const s = await server(t);
  const origin = s.url;
  t.is((await refusedWith(openTerminal(s.url, 'alice'))).status, 401, 'no credentials');
  t.is((await refusedWith(openTerminal(s.url, 'alice', { token: 'not-a-token' }))).status, 401);
  const agent = await refusedWith(openTerminal(s.url, 'alice', { token: agentToken(s.state, 'alice') }));
  t.is(agent.status, 403);
  t.regex(agent.body.error.message, /agent alice may not open terminals/);
  const cross = await refusedWith(openTerminal(s.url, 'alice', { token: s.token, origin: 'http://evil.example' }));
  t.is(cross.status, 403);
  t.regex(cross.body.error.message, /cross-origin/);
  const { cookie, csrf } = await loginSession(s);
  t.regex((await refusedWith(openTerminal(s.url, 'alice', { cookie, origin }))).body.error.message, /missing CSRF token/);
  t.regex((await refusedWith(openTerminal(s.url, 'alice', { cookie, origin, protocols: [SUBPROTOCOL, `${CSRF_PROTOCOL_PREFIX}wrong`] }))).body.error.message, /wrong CSRF token/);
  t.regex((await refusedWith(openTerminal(s.url, 'alice', { cookie, protocols: [SUBPROTOCOL, `${CSRF_PROTOCOL_PREFIX}${csrf}`] }))).body.error.message, /no Origin/, 'a cookie without an Origin is refused');
  t.is((await refusedWith(openTerminal(s.url, 'alice', { cookie, origin: 'http://evil.example', protocols: [SUBPROTOCOL, `${CSRF_PROTOCOL_PREFIX}${csrf}`] }))).status, 403);
  t.is((await refusedWith(openTerminal(s.url, 'alice', { token: s.token, protocols: ['other'] }))).status, 400, 'the subprotocol is required');
  const byCookie = await openTerminal(s.url, 'alice', { cookie, origin, protocols: [SUBPROTOCOL, `${CSRF_PROTOCOL_PREFIX}${csrf}`] });
  t.like(await byCookie.message('hello'), { agent: 'alice', role: 'writer', runtime: 'process', isolated: false });
  t.is(byCookie.ws.protocol, SUBPROTOCOL);
  await byCookie.close();
  const byToken = await openTerminal(s.url, 'alice', { token: s.token });
  t.like(await byToken.message('hello'), { role: 'writer' });
  await byToken.close();
  const other = await new Promise<number>((resolve, reject) => {
    const ws = new WebSocket(`${s.url.replace(/^http/, 'ws')}/api/agents/alice/nope`, [SUBPROTOCOL], { headers: { authorization: `Bearer ${s.token}` } });
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('open', () => { ws.close(); reject(new Error('opened')); });
  });
  t.is(other, 404, 'no WebSocket anywhere else');
});

test('an unknown, a draft or a stopped agent is refused with a message saying why', async (t) => {
  const s = await server(t);
  const unknown = await openTerminal(s.url, 'nobody', { token: s.token });
  t.like(await unknown.message('error'), { code: 'agent_not_found' });
  t.regex((unknown.messages.find((m) => m.type === 'error') as { message: string }).message, /no agent named "nobody"/);
  t.is((await unknown.closed).code, 4404);
  const bad = await openTerminal(s.url, 'Not%20A%20Name', { token: s.token });
  t.is((await bad.closed).code, 4400);

  await s.controller.createAgent('drafty', { kind: 'operator', name: 'operator' }, 'draft');
  const draft = await openTerminal(s.url, 'drafty', { token: s.token });
  t.regex((await draft.message('error')).message, /agent drafty is draft: it has no runtime/);
  t.is((await draft.closed).code, 4409);

  // Suspended: nothing restarts it behind the test's back once stopped.
  t.is((await s.api('POST', '/api/agents/alice/suspend', {})).status, 200);
  await s.core.runtime.stop('alice');
  const stopped = await openTerminal(s.url, 'alice', { token: s.token });
  t.like(await stopped.message('error'), { code: 'conflict' });
  t.regex((stopped.messages.find((m) => m.type === 'error') as { message: string }).message, /agent alice is not running \(runtime state: stopped\): a terminal opens only into a running agent/);
  t.is((await stopped.closed).code, 4409);
});

test('a shell in the agent\'s state dir with its environment; resize; one writer, read-only viewers; the screen restored on reconnect; audit rows', async (t) => {
  const s = await server(t);
  const a = await openTerminal(s.url, 'alice', { token: s.token, cols: 100, rows: 30 });
  t.like(await a.message('hello'), { role: 'writer', cols: 100, rows: 30 });
  a.type('echo "agent=$HYPERHIVE_AGENT"; printf "dir:%s\\n" "$(pwd)"; stty size\r');
  await a.expect(/agent=alice\r?\n/);
  t.is((await a.expect(/dir:\/\S+/)).slice(4), path.join(s.state, 'agents', 'alice', 'state'));
  await a.expect(/[\r\n]30 100\r?\n/);
  a.control({ type: 'resize', cols: 120, rows: 40 });
  const mark = a.bytes();
  a.type('stty size\r');
  await a.expect(/[\r\n]40 120\r?\n/, { from: mark });

  const b = await openTerminal(s.url, 'alice', { token: s.token });
  const hb = await b.message('hello');
  t.like(hb, { role: 'reader', writer: 'operator', cols: 120, rows: 40 });
  t.true(hb.restored > 0, 'the second viewer gets the screen so far');
  await b.expect(/agent=alice/, { timeoutMs: 10_000 });
  b.type('echo "from-b-$((1+1))"\r');
  t.regex((await b.message('notice')).message, /read-only: operator has the keyboard/);
  const seen = a.bytes();
  a.type('echo "from-a-$((2+2))"\r');
  await a.expect(/from-a-4/, { from: seen });
  t.notRegex(a.text(), /from-b-2/, 'the reader\'s keys never reached the shell');
  await b.expect(/from-a-4/, { timeoutMs: 10_000 });

  // The reader takes the keyboard; the writer becomes a reader.
  b.control({ type: 'take' });
  await waitFor('b is the writer', () => b.messages.some((m) => m.type === 'role' && m.role === 'writer'));
  await waitFor('a is a reader', () => a.messages.some((m) => m.type === 'role' && m.role === 'reader'));
  b.type('echo "b-types-$((3+3))"\r');
  await a.expect(/b-types-6/);

  // A dropped connection: the same session again, its screen first.
  await a.close();
  const a2 = await openTerminal(s.url, 'alice', { token: s.token });
  const h2 = await a2.message('hello');
  t.is(h2.session, hb.session, 'the same session');
  await a2.expect(/b-types-6/, { timeoutMs: 10_000 });
  t.true(a2.bytes() >= h2.restored);
  await b.close();
  await waitFor('a2 got the keyboard when b left', () => a2.messages.some((m) => m.type === 'role' && m.role === 'writer'));
  await a2.close();
  const audit = s.controller.auditTrail({ agent: 'alice' }).filter((e) => e.action.startsWith('terminal-'));
  t.deepEqual([...new Set(audit.map((e) => e.action))].sort(), ['terminal-attach', 'terminal-detach', 'terminal-open', 'terminal-take']);
  t.true(audit.filter((e) => e.action === 'terminal-detach').every((e) => typeof e.data.durationMs === 'number' && e.actor === 'operator'));
  t.is(audit.find((e) => e.action === 'terminal-open')!.data.session, hb.session);
});

test('slash commands at the prompt line run as on the agent page; anything else reaches the shell; a program in the foreground gets its / keys', async (t) => {
  const s = await server(t);
  const a = await openTerminal(s.url, 'alice', { token: s.token });
  await a.message('hello');
  a.type('echo ready-$((1+1))\r');
  // The prompt after the answer: the shell has the terminal's foreground again.
  await a.expect(/ready-2\r?\n[^\n]*[$#] $/);
  let mark = a.bytes();
  a.type('/model opus\r');
  await a.expect(/hyperhive:\S* model of alice set to opus/, { from: mark });
  t.is((await s.api('GET', '/api/agents/alice')).body.model, 'opus');
  mark = a.bytes();
  a.type('/model not/a/model\r');
  await a.expect(/hyperhive:\S* .*model/, { from: mark });
  t.is((await s.api('GET', '/api/agents/alice')).body.model, 'opus', 'a refused command changes nothing');
  mark = a.bytes();
  a.type('/bin/echo "abs-$((5*5))"\r');
  await a.expect(/abs-25/, { from: mark });
  // `cat` has the terminal: a / line is its input, echoed back, and runs nothing.
  await a.expect(/abs-25\r?\n[^\n]*[$#] $/, { from: mark });
  mark = a.bytes();
  a.type('cat\r');
  // cat runs (in the agent's environment), reading the terminal: the shell is not at its prompt.
  await waitFor('cat running', () => agentProcesses(s.state).some((p) => { try { return fs.readFileSync(`/proc/${p.pid}/comm`, 'utf8').trim() === 'cat'; } catch { return false; } }));
  a.type('probe\r');
  await a.expect(/probe\r?\nprobe/, { from: mark });
  a.type('/model haiku\r');
  await a.expect(/\/model haiku\r?\n\/model haiku/, { from: mark });
  a.type('\x03');
  t.is((await s.api('GET', '/api/agents/alice')).body.model, 'opus', 'nothing ran');
  await a.close();
});

test('the session ends when the agent\'s config revision changes, saying so; and after the idle timeout', async (t) => {
  const s = await server(t, { terminal: { idleMs: 60_000 } });
  const a = await openTerminal(s.url, 'alice', { token: s.token });
  const hello = await a.message('hello');
  await s.controller.proposeFiles('alice', { 'extra.md': 'more\n' }, 'a change', { kind: 'operator', name: 'operator' });
  const req = await waitFor('the request', async () => ((await s.api('GET', '/api/approvals?status=pending&agent=alice')).body as any[])[0]);
  t.is((await s.api('POST', `/api/approvals/${req.id}/approve`, {})).status, 200);
  const ended = await a.message('ended', 60_000);
  t.is(ended.reason, 'revision');
  t.regex(ended.message, new RegExp(`config changed to ${req.head.slice(0, 7)} \\(this terminal ran in ${hello.revision!.slice(0, 7)}\\)`));
  t.is((await a.closed).code, 4410);
  const close = await waitFor('the close audit row', () => s.controller.auditTrail({ agent: 'alice', action: 'terminal-close' })[0]);
  t.like(close.data, { session: hello.session, reason: 'revision' });
  t.is(typeof close.data.durationMs, 'number');

  const s2 = await server(t, { terminal: { idleMs: 800 } });
  const b = await openTerminal(s2.url, 'alice', { token: s2.token });
  await b.message('hello');
  const idle = await b.message('ended', 30_000);
  t.is(idle.reason, 'idle');
  t.regex(idle.message, /without a keystroke/);
  const again = await openTerminal(s2.url, 'alice', { token: s2.token });
  t.not((await again.message('hello')).session, (b.messages.find((m) => m.type === 'hello') as { session: string }).session, 'a new session after the old one ended');
  await again.close();
});
