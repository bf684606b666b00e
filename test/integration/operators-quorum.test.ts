// Named operators and quorum rules against a real server: tokens of their own (persisted as hashes),
// revocation ending tokens and sessions, decisions and commits carrying the operator's name, and
// policy.json's quorum (two operators for the manager's agent.nix; one operator twice refused; a push
// resets the count; the proposer's own approval does not count), validated at start and on change.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { main as cli } from '../../controller/cli.ts';
import { commitFile, gitc, gitCli, mustGit, pushByPath, refOf, repoOf } from '../helpers/git.ts';
import { tmpDir } from '../helpers/paths.ts';
import { createAgents, startServer, type TestServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';

const as = (s: TestServer, token: string) => (method: string, route: string, body?: unknown) => s.api(method, route, body, { authorization: `Bearer ${token}` });
const AGENT_NIX = (s: TestServer) => gitc(repoOf(s.state, 'manager'), 'show', 'proposed:agent.nix');

async function runCli(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = []; const err: string[] = [];
  const code = await cli(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

/** Waits until the agent's open change request is for `head` (raised by the reconciler after a push). */
const openFor = (s: TestServer, agent: string, head: string) =>
  waitFor(`request for ${head.slice(0, 7)}`, async () => (await s.api<any[]>('GET', `/api/approvals?agent=${agent}&status=pending`)).body.find((a) => a.head === head), 30_000);

test('operators: add prints a token once, it works at once and after a restart; bad names are refused; revoke ends the token and its sessions', async (t) => {
  t.timeout(180_000);
  const s = await startServer({ prefix: 'hh-ops-' });
  t.teardown(() => s.close());
  await createAgents(s, ['worker']);

  const added = await s.api('POST', '/api/operators', { name: 'alice' });
  t.is(added.status, 201);
  t.is(added.body.name, 'alice');
  t.regex(added.body.token, /^[A-Za-z0-9_-]{43}$/);
  const alice = as(s, added.body.token);
  t.is((await alice('GET', '/api/agents')).status, 200, "alice's token works at once");
  t.false(fs.readFileSync(path.join(s.state, 'hyperhive.db')).includes(Buffer.from(added.body.token)), 'the token itself is not stored');

  for (const [name, code, re] of [
    ['alice', 409, /already exists/], ['operator', 409, /first operator/], ['worker', 409, /an agent's name/],
    ['system', 400, /reserved/], ['manager', 400, /reserved/], ['Bad Name', 400, /invalid operator name/], [undefined, 400, /required/],
  ] as const) {
    const r = await s.api('POST', '/api/operators', { name });
    t.is(r.status, code, `${name}: ${JSON.stringify(r.body)}`);
    t.regex(r.body.error.message, re);
  }
  t.is((await s.api('POST', '/api/agents', { name: 'alice' })).status, 409, "an agent cannot take an operator's name");
  t.is((await s.api('POST', '/api/operators', { name: 'bob' }, { authorization: `Bearer ${fs.readFileSync(path.join(s.state, 'agents', 'worker', 'token'), 'utf8').trim()}` })).status, 403, 'an agent may not add operators');

  // What an operator does carries its name: the /model commit is authored as alice.
  t.is((await alice('POST', '/api/agents/worker/model', { model: 'opus' })).status, 200);
  t.is(gitc(repoOf(s.state, 'worker'), 'log', '-1', '--format=%an <%ae>', 'live'), 'alice <alice@hyperhive.local>');
  t.true(s.controller.auditTrail({ agent: 'worker' }).some((e) => e.action === 'set-model' && e.actor === 'alice'));

  const list = await s.api<any[]>('GET', '/api/operators');
  t.deepEqual(list.body.map((o) => [o.name, o.first, o.createdBy]), [['operator', true, null], ['alice', false, 'operator']]);
  t.false(JSON.stringify(list.body).includes(added.body.token), 'never listed');

  // The UI: log in as alice; the header says who; the operators page shows her logged in.
  const login = await fetch(`${s.url}/login`, { method: 'POST', body: new URLSearchParams({ token: added.body.token }), redirect: 'manual' });
  t.is(login.status, 303);
  const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
  const page = await (await fetch(`${s.url}/operators`, { headers: { cookie } })).text();
  t.regex(page, /data-testid="whoami"[^>]*>alice</);
  t.regex(page, /data-operator="alice"[\s\S]*?data-testid="sessions">yes \(1 session/);
  t.is((await s.api<any[]>('GET', '/api/operators')).body.find((o) => o.name === 'alice').sessions, 1);

  // Restart on the same state: the hash survives, the token still works.
  await s.close({ keepState: true });
  const s2 = await startServer({ state: s.state });
  t.teardown(async () => { await s2.close(); fs.rmSync(s.state, { recursive: true, force: true }); });
  const alice2 = as(s2, added.body.token);
  t.is((await alice2('GET', '/api/agents')).status, 200, 'after a restart');
  const login2 = await fetch(`${s2.url}/login`, { method: 'POST', body: new URLSearchParams({ token: added.body.token }), redirect: 'manual' });
  const cookie2 = login2.headers.get('set-cookie')!.split(';')[0]!;
  t.is((await fetch(`${s2.url}/`, { headers: { cookie: cookie2 }, redirect: 'manual' })).status, 200);

  t.is((await s2.api('DELETE', '/api/operators/operator')).status, 403, 'the first operator stays');
  t.is((await s2.api('DELETE', '/api/operators/nobody')).status, 404);
  const revoked = await s2.api('DELETE', '/api/operators/alice');
  t.is(revoked.status, 200);
  t.is((await alice2('GET', '/api/agents')).status, 401, 'the token stops working at once');
  const after = await fetch(`${s2.url}/`, { headers: { cookie: cookie2 }, redirect: 'manual' });
  t.is(after.status, 302, 'her session ended: back to the login page');
  t.regex(after.headers.get('location') ?? '', /^\/login/);
  t.true(s2.controller.auditTrail({}).some((e) => e.action === 'operator-revoke' && e.actor === 'operator' && e.data.operator === 'alice'));
});

test('the CLI: operator add prints only the token on stdout; list --json; revoke; policy', async (t) => {
  t.timeout(120_000);
  const s = await startServer({ prefix: 'hh-ops-cli-' });
  t.teardown(() => s.close());
  const S = ['--state', s.state];
  const add = await runCli(['operator', 'add', 'bob', ...S]);
  t.is(add.code, 0, add.err.join('\n'));
  t.is(add.out.length, 1, 'one line on stdout');
  t.regex(add.out[0]!, /^[A-Za-z0-9_-]{43}$/);
  t.is((await as(s, add.out[0]!)('GET', '/api/agents')).status, 200);
  const list = await runCli(['operator', 'list', '--json', ...S]);
  t.deepEqual(JSON.parse(list.out.join('\n')).map((o: any) => o.name), ['operator', 'bob']);
  t.regex((await runCli(['operator', 'list', ...S])).out.join('\n'), /^NAME\s+LOGGED IN\s+ADDED BY\s+AGE\noperator \(first\)\s+no[\s\S]*\nbob\s+no\s+operator/m);
  const dup = await runCli(['operator', 'add', 'bob', ...S]);
  t.is(dup.code, 1);
  t.regex(dup.err.join('\n'), /already exists/);
  t.is((await runCli(['operator', 'add', ...S])).code, 2, 'missing NAME is bad usage');
  t.is((await runCli(['operator', ...S])).code, 2);
  t.regex((await runCli(['operator', '--help'])).out.join('\n'), /operator add NAME[\s\S]*revoke NAME/);
  t.regex((await runCli(['operator', 'add', '--help'])).out.join('\n'), /prints its token once/);
  const rev = await runCli(['operator', 'revoke', 'bob', ...S]);
  t.is(rev.code, 0, rev.err.join('\n'));
  t.is((await as(s, add.out[0]!)('GET', '/api/agents')).status, 401);
  t.regex((await runCli(['policy', ...S])).out.join('\n'), /absent \(one approval decides every request\)/);
});

test('quorum: two operators approve the manager agent.nix change; one operator twice is refused; a push resets the count; the proposer does not count', async (t) => {
  t.timeout(240_000);
  const state = tmpDir('hh-quorum-');
  fs.writeFileSync(path.join(state, 'policy.json'), JSON.stringify({ quorum: [{ agent: 'manager', paths: ['agent.nix'], approvals: 2 }] }));
  const s = await startServer({ state });
  t.teardown(async () => { await s.close(); fs.rmSync(state, { recursive: true, force: true }); });
  await createAgents(s, ['manager', 'worker']);
  const tokens: Record<string, string> = {};
  for (const n of ['alice', 'bob', 'carol']) tokens[n] = (await s.api('POST', '/api/operators', { name: n })).body.token;
  const [alice, bob, carol] = ['alice', 'bob', 'carol'].map((n) => as(s, tokens[n]!));
  const repo = repoOf(state, 'manager');
  const base = refOf(repo, 'applied');
  const nix = AGENT_NIX(s);

  const policy = await s.api('GET', '/api/policy');
  t.deepEqual(policy.body.rules, { quorum: [{ agent: 'manager', paths: ['agent.nix'], approvals: 2 }] });
  t.is(policy.body.error, null);

  // A change to manager's prompt: one approval decides (no rule applies).
  const p1 = pushByPath(repo, { 'prompt.md': 'You manage.\n' });
  const r1 = await openFor(s, 'manager', p1);
  t.is(r1.required, 1);
  t.is((await alice('POST', `/api/approvals/${r1.id}/approve`, {})).body.status, 'approved');

  // agent.nix: two distinct operators.
  const h1 = pushByPath(repo, { 'agent.nix': `${nix}\n# first\n` });
  const r2 = await openFor(s, 'manager', h1);
  t.is(r2.required, 2);
  t.deepEqual(r2.votes, []);
  const v1 = await alice('POST', `/api/approvals/${r2.id}/approve`, {});
  t.is(v1.status, 200);
  t.is(v1.body.status, 'pending');
  const shown = await s.api('GET', `/api/approvals/${r2.id}`);
  t.deepEqual(shown.body.votes.map((v: any) => [v.by, v.decision]), [['alice', 'approve']], 'who approved so far');
  t.is(shown.body.required, 2);
  t.is(refOf(repo, 'applied'), p1, 'applied unmoved by one vote');
  const twice = await alice('POST', `/api/approvals/${r2.id}/approve`, {});
  t.is(twice.status, 409, 'one operator twice is refused');
  t.regex(twice.body.error.message, /alice already approved request #\d+; the same operator counts once: it needs 1 more approval from another operator/);
  const page = await (await fetch(`${s.url}/approvals/${r2.id}`, { headers: { authorization: `Bearer ${s.token}`, accept: 'text/html' } })).text();
  t.regex(page, /data-testid="quorum"[^>]*>[\s\S]*1 of 2 approvals[\s\S]*alice/, 'the page shows who approved so far');

  // A new push supersedes the request: the count starts again.
  const h2 = pushByPath(repo, { 'agent.nix': `${nix}\n# second\n` });
  const r3 = await openFor(s, 'manager', h2);
  t.is((await s.api('GET', `/api/approvals/${r2.id}`)).body.status, 'superseded');
  t.deepEqual(r3.votes, [], 'no vote carried over to the new pair');
  t.is((await alice('POST', `/api/approvals/${r3.id}/approve`, {})).body.status, 'pending');
  const done = await bob('POST', `/api/approvals/${r3.id}/approve`, {});
  t.is(done.body.status, 'approved');
  t.is(done.body.decidedBy, 'bob');
  t.deepEqual(done.body.votes.map((v: any) => v.by), ['alice', 'bob']);
  t.is(refOf(repo, 'applied'), h2);
  const approveRow = s.controller.auditTrail({ agent: 'manager' }).find((e) => e.action === 'approve' && e.approvalId === r3.id)!;
  t.deepEqual(approveRow.data.approvers, ['alice', 'bob'], 'the audit row names both approvers');

  // The proposer's own approval does not count: carol pushes over HTTP with her token.
  const dir = tmpDir('hh-quorum-clone-');
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const remote = `${s.url.replace('http://', `http://carol:${tokens.carol}@`)}/git/manager.git`;
  await mustGit(['clone', '-q', '-b', 'proposed', remote, dir]);
  const h3 = await commitFile(dir, 'agent.nix', `${nix}\n# carol's\n`, 'carol tunes the manager');
  const push = await gitCli(['push', 'origin', 'HEAD:proposed'], { cwd: dir });
  t.is(push.code, 0, push.stderr);
  const r4 = await openFor(s, 'manager', h3);
  t.is(r4.proposer, 'carol');
  const own = await carol('POST', `/api/approvals/${r4.id}/approve`, {});
  t.is(own.status, 403);
  t.regex(own.body.error.message, /carol proposed request #\d+.*another operator must approve it; the proposer's own approval does not count/);
  t.is((await alice('POST', `/api/approvals/${r4.id}/approve`, {})).body.status, 'pending');
  t.is((await bob('POST', `/api/approvals/${r4.id}/approve`, {})).body.status, 'approved');
  t.is(refOf(repo, 'applied'), h3);
  t.not(base, h3);
});

test('policy.json: a bad file stops the start with the reason; a bad edit keeps the last good rules and says why; a fixed file applies', async (t) => {
  t.timeout(180_000);
  const state = tmpDir('hh-policy-');
  t.teardown(() => fs.rmSync(state, { recursive: true, force: true }));
  const file = path.join(state, 'policy.json');
  fs.writeFileSync(file, JSON.stringify({ quorum: [{ agent: 'manager', approvals: 0 }] }));
  const err = await t.throwsAsync(() => startServer({ state }));
  t.regex(err!.message, /policy\.json is invalid: quorum\[0\]\.approvals: must be a whole number from 1 to 20, got 0/);

  fs.writeFileSync(file, JSON.stringify({ quorum: [{ agent: '*', approvals: 2 }] }));
  const s = await startServer({ state });
  t.teardown(() => s.close());
  await createAgents(s, ['worker']);
  const h = pushByPath(repoOf(state, 'worker'), { 'prompt.md': 'x\n' });
  t.is((await openFor(s, 'worker', h)).required, 2);

  fs.writeFileSync(file, '{"quorum": [{"agent": "worker", "pathz": []}]');
  const bad = await waitFor('the bad edit seen', async () => { const p = (await s.api('GET', '/api/policy')).body; return p.error && p; });
  t.regex(bad.error, /not valid JSON/);
  t.deepEqual(bad.rules.quorum, [{ agent: '*', paths: [], approvals: 2 }], 'the last good rules stay');
  t.is((await openFor(s, 'worker', h)).required, 2);
  const page = await (await fetch(`${s.url}/operators`, { headers: { authorization: `Bearer ${s.token}` } })).text();
  t.regex(page, /data-testid="policy-error"[\s\S]*not valid JSON[\s\S]*The last good rules below stay in force/);
  t.true(s.controller.logEntries({}).some((e) => e.event === 'policy' && e.level === 'error' && /last good rules stay in force/.test(e.message)));

  fs.writeFileSync(file, JSON.stringify({ quorum: [{ agent: 'worker', pathz: [], approvals: 3 }] }));
  const bad2 = await waitFor('the unknown key refused', async () => { const p = (await s.api('GET', '/api/policy')).body; return /pathz/.test(p.error ?? '') && p; });
  t.regex(bad2.error, /quorum\[0\]: unknown key "pathz" \(allowed: agent, paths, approvals\)/);

  fs.writeFileSync(file, JSON.stringify({ quorum: [{ agent: 'worker', paths: ['prompt.md'], approvals: 3 }] }));
  await waitFor('the fixed file applied', async () => { const p = (await s.api('GET', '/api/policy')).body; return p.error === null && p.rules.quorum[0]?.approvals === 3; });
  t.is((await openFor(s, 'worker', h)).required, 3);
});
