import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { pushByPath, refOf, gitc } from '../helpers/git.ts';
import { PROJECT_ROOT } from '../helpers/paths.ts';
import { startServer, serverPool, type TestServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';

const pool = serverPool();
const servers = { push: (s: TestServer): TestServer => pool.track(s) };
const fresh = pool.fresh;
test.after.always(() => pool.closeAll());
const agent = async (s: TestServer, name: string) => (await s.api('GET', `/api/agents/${name}`)).body as any;
const cond = (a: any, type: string) => a.conditions.find((c: any) => c.type === type);
const openReqs = async (s: TestServer, name: string) => (await s.api('GET', `/api/approvals?agent=${name}&status=pending,diverged`)).body as any[];

test('bad agent names are refused before anything touches disk', async (t) => {
  const s = await startServer();
  servers.push(s);
  const bad: [unknown, string][] = [['../x', 'invalid_name'], ['Alpha', 'invalid_name'], ['', 'invalid_name'], ['a'.repeat(200), 'invalid_name'], ['operator', 'reserved_name'], ['system', 'reserved_name'], [42, 'invalid_name'], ['x/y', 'invalid_name']];
  for (const [name, code] of bad) {
    const r = await s.api('POST', '/api/agents', { name });
    t.is(r.status, 400, `name ${JSON.stringify(name)}`);
    t.is(r.body.error.code, code);
    t.truthy(r.body.error.message);
  }
  t.deepEqual(fs.readdirSync(path.join(s.state, 'repos')), [], 'no repo created');
  t.deepEqual((await s.api('GET', '/api/agents')).body, []);
  const malformed = await s.api('POST', '/api/agents', '{"name": ');
  t.is(malformed.status, 400);
  t.is(malformed.body.error.code, 'invalid_json');
  const first = await s.api('POST', '/api/agents', { name: 'dup' });
  t.is(first.status, 201);
  const dup = await s.api('POST', '/api/agents', { name: 'dup' });
  t.is(dup.status, 409);
  t.regex(dup.body.error.message, /already exists/);
});

test('unknown agents and requests are 404 with a message; no token is 401', async (t) => {
  const s = await startServer();
  servers.push(s);
  for (const [m, route, body] of [['GET', '/api/agents/nope'], ['POST', '/api/agents/nope/model', { model: 'opus' }], ['POST', '/api/agents/nope/suspend', {}], ['GET', '/api/approvals?agent=nope'], ['GET', '/api/approvals/77'], ['POST', '/api/approvals/77/reject', { reason: 'x' }]] as const) {
    const r = await s.api(m, route, body);
    t.is(r.status, 404, `${m} ${route}`);
    t.truthy(r.body.error.message);
  }
  const noAuth = await fetch(`${s.url}/api/agents`);
  t.is(noAuth.status, 401);
  const wrong = await fetch(`${s.url}/api/agents`, { headers: { authorization: 'Bearer nope' } });
  t.is(wrong.status, 401);
  t.is((await fetch(`${s.url}/api/health`)).status, 200);
  const big = await s.api('POST', '/api/agents', JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) }));
  t.is(big.status, 413);
  const badId = await s.api('GET', '/api/approvals/abc');
  t.is(badId.status, 400);
});

test('an agent token may not call operator routes', async (t) => {
  const { s } = await fresh();
  const tok = fs.readFileSync(path.join(s.state, 'agents', 'worker', 'token'), 'utf8').trim();
  t.is((fs.statSync(path.join(s.state, 'agents', 'worker', 'token')).mode & 0o777), 0o600);
  t.is((fs.statSync(path.join(s.state, 'operator.token')).mode & 0o777), 0o600);
  const r = await fetch(`${s.url}/api/agents`, { headers: { authorization: `Bearer ${tok}` } });
  t.is(r.status, 403);
});

test('applied moved behind the controller\'s back: approve refused, nothing applied, repair moves it back', async (t) => {
  const { s, repo } = await fresh();
  await waitFor('running', async () => (await agent(s, 'worker')).runtime.state === 'running');
  const base = refOf(repo, 'applied')!;
  pushByPath(repo, { 'x.txt': 'x\n' });
  const [req] = await waitFor('request', async () => { const l = await openReqs(s, 'worker'); return l.length > 0 && l; });
  const rogue = gitc(repo, 'commit-tree', `${base}^{tree}`, '-p', base, '-m', 'rogue');
  gitc(repo, 'update-ref', 'refs/heads/applied', rogue);
  const res = await s.api('POST', `/api/approvals/${req.id}/approve`, {});
  t.is(res.status, 409);
  t.regex(res.body.error.message, /applied moved/);
  const a = await waitFor('stalled', async () => { const a = await agent(s, 'worker'); return cond(a, 'Stalled')?.reason === 'AppliedMovedOutside' && a; });
  t.is(a.runtime.revision, base, 'the rogue commit never runs');
  t.regex(cond(a, 'Stalled').message, /hyperhive repair worker/);
  const rep = await s.api('POST', '/api/agents/worker/repair', {});
  t.is(rep.status, 200);
  t.is(refOf(repo, 'applied'), base);
  await waitFor('unstalled', async () => cond(await agent(s, 'worker'), 'Stalled')?.status === 'False');
});

test('a deleted applied ref stalls the agent with the reason; repair restores it from the audit trail', async (t) => {
  const { s, repo } = await fresh();
  await waitFor('running', async () => (await agent(s, 'worker')).runtime.state === 'running');
  const applied = refOf(repo, 'applied')!;
  gitc(repo, 'update-ref', '-d', 'refs/heads/applied');
  const a = await waitFor('stalled', async () => { const a = await agent(s, 'worker'); return cond(a, 'Stalled')?.status === 'True' && a; });
  t.is(cond(a, 'Stalled').reason, 'AppliedRefMissing');
  t.regex(cond(a, 'Stalled').message, /applied is missing/);
  const rep = await s.api('POST', '/api/agents/worker/repair', {});
  t.is(rep.status, 200);
  t.true(rep.body.actions.some((x: string) => x.includes('applied restored')));
  t.is(refOf(repo, 'applied'), applied);
  await waitFor('ready again', async () => cond(await agent(s, 'worker'), 'Ready')?.status === 'True');
});

test('missing objects stall the agent naming the problem', async (t) => {
  const { s, repo } = await fresh();
  // What ran first has to run: under load the first start can still be under way when the stall comes.
  await waitFor('worker running', async () => (await agent(s, 'worker')).runtime.state === 'running');
  const head = pushByPath(repo, { 'y.txt': 'y\n' });
  await waitFor('request', async () => (await openReqs(s, 'worker')).length > 0);
  const obj = path.join(repo, 'objects', head.slice(0, 2), head.slice(2));
  t.true(fs.existsSync(obj), 'loose object after a small push');
  fs.rmSync(obj);
  s.core.reconciler.resync();
  const a = await waitFor('stalled', async () => { const a = await agent(s, 'worker'); return cond(a, 'Stalled')?.status === 'True' && a; });
  t.is(cond(a, 'Stalled').reason, 'ObjectsMissing');
  t.is(a.runtime.state, 'running', 'what ran keeps running');
});

test('non-UTF-8, binary and 10 MB files make a normal request', async (t) => {
  const { s, repo } = await fresh();
  const big = Buffer.alloc(10 * 1024 * 1024, 'a\n');
  pushByPath(repo, { 'latin1.txt': Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]), 'blob.bin': Buffer.from([0, 1, 2, 255, 0, 7]), 'big.txt': big });
  const [req] = await waitFor('request', async () => { const l = await openReqs(s, 'worker'); return l.length > 0 && l; }, 60_000);
  t.deepEqual([...req.paths].sort(), ['big.txt', 'blob.bin', 'latin1.txt']);
  const detail = await s.api('GET', `/api/approvals/${req.id}`);
  t.is(detail.status, 200);
  t.regex(detail.body.patch, /Binary files .*blob\.bin/);
  t.true(detail.body.patch.includes('latin1.txt'));
  t.is((await s.api('POST', `/api/approvals/${req.id}/approve`, {})).status, 200);
  await waitFor('applied', async () => (await agent(s, 'worker')).runtime.revision === req.head);
  t.is(fs.statSync(path.join(s.state, 'agents', 'worker', 'config', 'big.txt')).size, big.length);
});

test('a controller restarted in the middle keeps every pending request and converges', async (t) => {
  const { s, repo } = await fresh();
  pushByPath(repo, { 'one.txt': '1\n' });
  const [r1] = await waitFor('request', async () => { const l = await openReqs(s, 'worker'); return l.length > 0 && l; });
  await s.close({ keepState: true });
  const h2 = pushByPath(repo, { 'two.txt': '2\n' }); // pushed while no controller runs
  const s2 = await startServer({ state: s.state });
  servers.push(s2);
  const [r2] = await waitFor('new request after restart', async () => { const l = await openReqs(s2, 'worker'); return l.length > 0 && l[0].head === h2 && l; });
  t.is(r2.proposer, 'local', 'the proposer was recorded by the hook while the controller was down');
  const old = (await s2.api('GET', `/api/approvals/${r1.id}`)).body;
  t.is(old.status, 'superseded');
  t.is((await s2.api('POST', `/api/approvals/${r2.id}/approve`, {})).status, 200);
  await waitFor('runs after restart', async () => (await agent(s2, 'worker')).runtime.revision === h2);
  const a = await agent(s2, 'worker');
  t.is(cond(a, 'Ready').status, 'True');
});

test('a config that does not evaluate shows the error on its request, and approving it answers 422', async (t) => {
  const s = await startServer({ configCheck: true });
  servers.push(s);
  await s.api('POST', '/api/agents', { name: 'worker' });
  const repo = path.join(s.state, 'repos', 'worker.git');
  const applied = refOf(repo, 'applied');
  pushByPath(repo, { 'agent.nix': '{ config, lib, pkgs, ... }:\n{\n  hyperhive = { tools = { allow = 5; }; };\n}\n' }, { message: 'broken surface' });
  const [req] = await waitFor('request', async () => { const l = await openReqs(s, 'worker'); return l.length > 0 && l; }, 60_000);
  const detail = await waitFor('error on the request', async () => { const d = (await s.api('GET', `/api/approvals/${req.id}`)).body; return d.error && d; }, 60_000);
  t.regex(detail.error, /config does not evaluate/);
  t.is(detail.data.configCheck, 'failed');
  const res = await s.api('POST', `/api/approvals/${req.id}/approve`, {});
  t.is(res.status, 422);
  t.regex(res.body.error.message, /does not evaluate/);
  t.is(refOf(repo, 'applied'), applied, 'nothing applied');
  t.is((await s.api('GET', `/api/approvals/${req.id}`)).body.status, 'pending', 'still pending: a fix supersedes it');

  // The fix supersedes it and is marked as evaluating; approving it applies it.
  pushByPath(repo, { 'agent.nix': fs.readFileSync(path.join(PROJECT_ROOT, 'templates', 'agent', 'agent.nix')), 'fix.txt': 'fixed\n' }, { message: 'fixed surface' });
  const fixed = await waitFor('the fix raised', async () => { const l = await openReqs(s, 'worker'); return l.length > 0 && l[0].id !== req.id && l[0]; }, 60_000);
  const ok = await waitFor('verdict on the fix', async () => { const d = (await s.api('GET', `/api/approvals/${fixed.id}`)).body; return d.data?.configCheck && d; }, 60_000);
  t.is(ok.data.configCheck, 'ok');
  t.is(ok.error, null);
  t.is((await s.api('POST', `/api/approvals/${fixed.id}/approve`, {})).status, 200);
  t.true((await s.api('GET', `/api/approvals/${fixed.id}`)).body.data.applied, 'approve keeps the verdict and marks it applied');
  t.is((await s.api('GET', `/api/approvals/${fixed.id}`)).body.data.configCheck, 'ok');
});
