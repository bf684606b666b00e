// Tool-use approvals end to end: a real server, the real harness, and the fake claude CLI speaking the
// chosen mechanism (`--permission-prompt-tool stdio`: a control_request on stdout, answered with a
// control_response on stdin). Allowed by policy, denied by policy, queued → allowed by an operator
// after waiting several times the harness's hang watchdog, queued → denied by the timeout, and
// "allow always" → a hyperhive.json change whose approval lets the next identical call pass by policy.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gitc, pushByPath, refOf, repoOf } from '../helpers/git.ts';
import { tmpDir } from '../helpers/paths.ts';
import { createAgents, startServer, type TestServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';

const FAKE = fileURLToPath(new URL('../helpers/fake-claude.mjs', import.meta.url));
const FIX = (name: string) => fileURLToPath(new URL(`../fixtures/stream/${name}`, import.meta.url));
const HANG_MS = 1500;
const T = 90_000;

interface Permission { n: number; tool: string; input: any; toolUseId: string; answer: { subtype: string; response: any } | null; waitedMs: number }

/** A server whose agents run the real harness with the fake CLI following `plan` (turn n plays turns[n]). */
async function harnessServer(t: { teardown(fn: () => unknown): void }, o: { toolTimeoutMs?: number } = {}) {
  const dir = tmpDir('hh-tools-');
  const planFile = path.join(dir, 'plan.json');
  const log = path.join(dir, 'calls.jsonl');
  const s = await startServer({
    prefix: 'hh-tools-state-', agentCommand: undefined, agentCli: FAKE, toolTimeoutMs: o.toolTimeoutMs,
    agentEnv: () => ({ FAKE_CLAUDE_PLAN: planFile, HYPERHIVE_HANG_MS: String(HANG_MS), HYPERHIVE_TOOL_POLL_MS: '400' }),
  });
  t.teardown(async () => { await s.close(); fs.rmSync(dir, { recursive: true, force: true }); });
  const plan = (turns: object[]) => fs.writeFileSync(planFile, JSON.stringify({ turns, log }));
  const permissions = (): Permission[] => { try { return fs.readFileSync(`${log}.permissions.jsonl`, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)); } catch { return []; } };
  const calls = (): any[] => { try { return fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)); } catch { return []; } };
  return { s, plan, permissions, calls };
}

const bash = (command: string) => ({ name: 'Bash', input: { command, description: `runs ${command}` } });
const turns = async (s: TestServer, agent: string, cls = 'ok') => {
  const st = (await s.api('GET', `/api/stats?agent=${agent}&key=class:${cls}&since=-1h`)).body;
  return st.points.reduce((n: number, p: [number, number]) => n + p[1], 0) as number;
};
const running = (s: TestServer, agent: string, revision: string | null) =>
  waitFor(`${agent} running ${revision?.slice(0, 7)}`, async () => { const a = (await s.api('GET', `/api/agents/${agent}`)).body; return a.runtime.state === 'running' && a.runtime.revision === revision && a; }, T);
const pendingTool = (s: TestServer, agent: string) =>
  waitFor('a tool request in the queue', async () => (await s.api<any[]>('GET', `/api/approvals?agent=${agent}&kind=tool&status=pending`)).body[0], T);

test('policy first, then the queue: allowed and denied by the surface at once; an operator allows the rest after waiting several hang watchdogs', async (t) => {
  t.timeout(240_000);
  const { s, plan, permissions, calls } = await harnessServer(t);
  plan([{ fixture: FIX('ok-tool-calls.jsonl'), tools: [bash('git status'), bash('rm -rf /tmp/scratch'), bash('npm test')] }]);
  await createAgents(s, ['worker']);
  const alice = (await s.api('POST', '/api/operators', { name: 'alice' })).body.token as string;
  // The surface: the template's allow list (Bash(git *) among it) and a deny pattern.
  const repo = repoOf(s.state, 'worker');
  const json = JSON.parse(gitc(repo, 'show', 'proposed:hyperhive.json'));
  json.tools.deny = ['Bash(rm *)'];
  const head = pushByPath(repo, { 'hyperhive.json': `${JSON.stringify(json, null, 2)}\n` });
  const change = await waitFor('the surface change', async () => (await s.api<any[]>('GET', '/api/approvals?agent=worker&status=pending')).body.find((a) => a.head === head), T);
  t.is((await s.api('POST', `/api/approvals/${change.id}/approve`, {})).status, 200);
  await running(s, 'worker', head);

  t.is((await s.api('POST', '/api/agents/worker/messages', { body: 'please run the tests' })).status, 201);
  const req = await pendingTool(s, 'worker');
  t.is(req.kind, 'tool');
  t.is(req.base, null);
  t.is(req.head, null);
  t.deepEqual(req.tool, { name: 'Bash', input: { command: 'npm test', description: 'runs npm test' } });
  t.is(req.proposer, 'worker');
  t.is(req.required, 1);
  const full = (await s.api('GET', `/api/approvals/${req.id}`)).body;
  t.regex(JSON.stringify(full.data.context.messages), /please run the tests/, 'the agent\'s recent messages come with it');
  // The first two were decided by policy before anything was queued.
  const early = permissions();
  t.deepEqual(early.map((p) => [p.input.command, p.answer?.response.behavior]), [['git status', 'allow'], ['rm -rf /tmp/scratch', 'deny']]);
  t.deepEqual(early[0]!.answer!.response.updatedInput, bash('git status').input, 'allow carries the call\'s own input');
  t.regex(early[1]!.answer!.response.message, /Bash is denied by worker's surface \(Bash\(rm \*\) in hyperhive.json tools.deny\)/);
  t.is((await s.api<any[]>('GET', '/api/approvals?agent=worker&kind=tool')).body.length, 1, 'only the undecided call became a request');

  // The operator takes longer than the harness's hang watchdog, several times over: the turn waits.
  await waitFor('three hang watchdogs of waiting', () => Date.now() - req.createdAt > 3 * HANG_MS, 30_000);
  t.is(permissions().length, 2, 'still waiting for the operator');
  const allowed = await s.api('POST', `/api/approvals/${req.id}/approve`, {}, { authorization: `Bearer ${alice}` });
  t.is(allowed.status, 200, JSON.stringify(allowed.body));
  t.is(allowed.body.status, 'approved');
  t.is(allowed.body.decidedBy, 'alice');
  const all = await waitFor('the answer reached the CLI', () => { const p = permissions(); return p.length === 3 && p; }, T);
  t.is(all[2]!.answer!.response.behavior, 'allow');
  t.deepEqual(all[2]!.answer!.response.updatedInput, bash('npm test').input);
  t.true(all[2]!.waitedMs > 3 * HANG_MS, `waited ${all[2]!.waitedMs} ms, more than 3 × ${HANG_MS} ms`);
  await waitFor('the turn reported ok', async () => (await turns(s, 'worker')) === 1, T);
  t.is(await turns(s, 'worker', 'hung'), 0, 'the watchdog did not kill the waiting turn');
  t.is(calls().length, 1, 'one CLI run: no retry');

  const audit = s.controller.auditTrail({ agent: 'worker' });
  t.true(audit.some((e) => e.action === 'tool-allow-policy' && e.actor === 'policy' && e.reason === 'Bash(git *)'));
  t.true(audit.some((e) => e.action === 'tool-deny-policy' && e.actor === 'policy' && e.reason === 'Bash(rm *)'));
  const decided = audit.find((e) => e.action === 'approve-tool' && e.approvalId === req.id)!;
  t.is(decided.actor, 'alice');
  t.deepEqual(decided.data.input, bash('npm test').input);
  t.true((decided.data.waitedMs as number) > 3 * HANG_MS, 'how long it waited');
});

test('queued → denied by the timeout with a message saying so; the turn goes on; an operator deny reaches the agent as its message', async (t) => {
  t.timeout(240_000);
  const { s, plan, permissions } = await harnessServer(t, { toolTimeoutMs: 1200 });
  plan([{ fixture: FIX('ok-tool-calls.jsonl'), tools: [bash('curl https://example.com'), bash('make deploy')] }]);
  await createAgents(s, ['worker']);
  await running(s, 'worker', refOf(repoOf(s.state, 'worker'), 'applied'));
  t.is((await s.api('POST', '/api/agents/worker/messages', { body: 'go' })).status, 201);
  const first = await waitFor('the timeout deny', () => permissions()[0], T);
  t.is(first.answer!.response.behavior, 'deny');
  t.regex(first.answer!.response.message, /^Denied: no operator answered within 1 s \(tool request #\d+\)\. The call did not run/);
  const expired = (await s.api<any[]>('GET', '/api/approvals?agent=worker&kind=tool&status=expired')).body;
  t.is(expired.length, 1);
  t.is(expired[0].decidedBy, 'controller');
  t.true(s.controller.auditTrail({ agent: 'worker' }).some((e) => e.action === 'tool-timeout' && e.approvalId === expired[0].id && (e.data.waitedMs as number) >= 1200));
  // The turn went on to the next call, which an operator denies with a message.
  const second = await pendingTool(s, 'worker');
  t.deepEqual(second.tool.input.command, 'make deploy');
  const denied = await s.api('POST', `/api/approvals/${second.id}/reject`, { reason: 'not on a Friday' });
  t.is(denied.body.status, 'rejected');
  const p = await waitFor('the operator deny', () => permissions()[1], T);
  t.deepEqual(p.answer!.response, { behavior: 'deny', message: 'Denied by operator operator: not on a Friday' });
  await waitFor('the turn reported ok', async () => (await turns(s, 'worker')) === 1, T);
  t.is((await s.api('POST', `/api/approvals/${second.id}/approve`, {})).status, 409, 'a decided tool request stays decided');
});

test('allow always: allowed once now, a hyperhive.json change request by the operator; once approved the next identical call passes by policy', async (t) => {
  t.timeout(300_000);
  const { s, plan, permissions, calls } = await harnessServer(t);
  plan([
    { fixture: FIX('ok-tool-calls.jsonl'), tools: [bash('npm test')] },
    { fixture: FIX('ok-tool-calls.jsonl'), tools: [bash('npm test')] },
  ]);
  await createAgents(s, ['worker']);
  const repo = repoOf(s.state, 'worker');
  await running(s, 'worker', refOf(repo, 'applied'));
  const alice = (await s.api('POST', '/api/operators', { name: 'alice' })).body.token as string;
  t.is((await s.api('POST', '/api/agents/worker/messages', { body: 'test it' })).status, 201);
  const req = await pendingTool(s, 'worker');
  const bad = await s.api('POST', `/api/approvals/${req.id}/approve`, { always: true, pattern: 'Bash(make *)' }, { authorization: `Bearer ${alice}` });
  t.is(bad.status, 400, 'a pattern that does not match the call is refused');
  t.regex(bad.body.error.message, /does not match this call/);
  t.is((await s.api('POST', `/api/approvals/${req.id}/approve`, { always: 'yes' })).status, 400);
  const r = await s.api('POST', `/api/approvals/${req.id}/approve`, { always: true }, { authorization: `Bearer ${alice}` });
  t.is(r.status, 200, JSON.stringify(r.body));
  t.is(r.body.status, 'approved');
  t.is(r.body.always.pattern, 'Bash(npm test)');
  t.is(r.body.always.effective, true, "the template's agent.nix takes its surface from hyperhive.json");
  const first = await waitFor('allowed once', () => permissions()[0], T);
  t.is(first.answer!.response.behavior, 'allow');
  await waitFor('turn 1 done', async () => (await turns(s, 'worker')) === 1, T);
  t.is(s.bus.depth('worker'), 0, 'the decision is not also sent as a message (it would start another turn)');

  // The widening is a change like any other: a commit by alice on proposed, raised and shown.
  const change = (await s.api('GET', `/api/approvals/${r.body.always.request}`)).body;
  t.is(change.kind, 'change');
  t.is(change.status, 'pending');
  t.is(change.head, r.body.always.commit);
  t.deepEqual(change.paths, ['hyperhive.json']);
  t.is(gitc(repo, 'log', '-1', '--format=%an', r.body.always.commit), 'alice', 'authored as the operator');
  t.regex(change.patch, /^\+\s+"Bash\(npm test\)"/m);
  t.false(JSON.parse(gitc(repo, 'show', 'applied:hyperhive.json')).tools.allow.includes('Bash(npm test)'), 'nothing widened before approval');
  t.is((await s.api('POST', `/api/approvals/${change.id}/approve`, {})).body.status, 'approved');
  await running(s, 'worker', change.head);

  // The next identical call: the surface allows it, no request is raised.
  t.is((await s.api('POST', '/api/agents/worker/messages', { body: 'test it again' })).status, 201);
  const second = await waitFor('the second call answered', () => permissions()[1], T);
  t.is(second.answer!.response.behavior, 'allow');
  t.is((await s.api<any[]>('GET', '/api/approvals?agent=worker&kind=tool')).body.length, 1, 'no second tool request');
  t.true(calls()[1].allowedTools.includes('Bash(npm test)'), 'the CLI itself is given the pattern from now on');
  t.true(s.controller.auditTrail({ agent: 'worker' }).some((e) => e.action === 'tool-allow-policy' && e.reason === 'Bash(npm test)'));
});

test('the endpoint: only the agent itself (or an operator) asks; bad input named; asking again for the same tool_use_id finds the same request', async (t) => {
  t.timeout(120_000);
  const s = await startServer({ prefix: 'hh-tools-api-', toolTimeoutMs: 60_000 });
  t.teardown(() => s.close());
  await createAgents(s, ['worker', 'other']);
  const token = (n: string) => fs.readFileSync(path.join(s.state, 'agents', n, 'token'), 'utf8').trim();
  const ask = (who: string, body: unknown, agent = 'worker') => s.api('POST', `/api/agents/${agent}/tool-requests`, body, { authorization: `Bearer ${token(who)}` });
  t.is((await ask('other', { tool_name: 'Bash', input: { command: 'ls' } })).status, 403);
  t.is((await s.api('POST', '/api/agents/worker/tool-requests', { tool_name: 'Bash' }, { authorization: 'Bearer nope' })).status, 401);
  const noName = await ask('worker', { input: {} });
  t.is(noName.status, 400);
  t.regex(noName.body.error.message, /tool_name/);
  t.is((await ask('worker', { tool_name: 'Bash', input: { command: 'x'.repeat(300_000) } })).status, 413);
  t.is((await ask('worker', { tool_name: 'Bash', input: { command: 'ls' }, wait_ms: 'soon' })).status, 400);
  const a = await ask('worker', { tool_name: 'WebSearch', input: { query: 'x' }, tool_use_id: 'toolu_1' });
  t.is(a.status, 202);
  t.is(a.body.status, 'pending');
  const again = await ask('worker', { tool_name: 'WebSearch', input: { query: 'x' }, tool_use_id: 'toolu_1' });
  t.is(again.body.id, a.body.id, 'the same request');
  const poll = await s.api('GET', `/api/agents/worker/tool-requests/${a.body.id}?wait_ms=50`, undefined, { authorization: `Bearer ${token('worker')}` });
  t.is(poll.status, 202);
  t.is((await s.api('GET', `/api/agents/other/tool-requests/${a.body.id}`, undefined, { authorization: `Bearer ${token('other')}` })).status, 404, "another agent's request is not found under its name");
  // A waiting poll answers as soon as the operator decides.
  const waiting = s.api('GET', `/api/agents/worker/tool-requests/${a.body.id}?wait_ms=30000`, undefined, { authorization: `Bearer ${token('worker')}` });
  await s.api('POST', `/api/approvals/${a.body.id}/approve`, {});
  const done = await waiting;
  t.is(done.status, 200);
  t.is(done.body.status, 'allow');
  t.is(done.body.by, 'operator');
  const view = (await s.api('GET', `/api/approvals/${a.body.id}`)).body;
  t.deepEqual(view.tool, { name: 'WebSearch', input: { query: 'x' } });
  t.is((await s.api('POST', `/api/approvals/${a.body.id}/approve`, { always: true })).status, 409, 'decided already');
});
