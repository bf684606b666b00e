import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { pushByPath, refOf, gitc } from '../helpers/git.ts';
import { startServer, serverPool, type TestServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';

const pool = serverPool();
const servers = { push: (s: TestServer): TestServer => pool.track(s) };
const fresh = pool.fresh;
test.after.always(() => pool.closeAll());

const pending = async (s: TestServer, agent: string) => (await s.api('GET', `/api/approvals?status=pending&agent=${agent}`)).body as any[];
const agent = async (s: TestServer, name: string) => (await s.api('GET', `/api/agents/${name}`)).body as any;
const runningRevision = (s: TestServer, name: string) => fs.readFileSync(path.join(s.state, 'agents', name, 'config', '.hyperhive-revision'), 'utf8').trim();

test('create → propose → request → approve → applied moves → the process runs the new revision', async (t) => {
  const { s, repo } = await fresh();
  const a0 = await waitFor('worker running', async () => { const a = await agent(s, 'worker'); return a.runtime.state === 'running' && a; });
  t.is(a0.applied, a0.proposed);
  t.is(a0.runtime.revision, a0.applied);
  t.false(a0.runtime.isolated);
  const head = pushByPath(repo, { 'prompt.md': 'You are a careful worker.\n' }, { message: 'sharpen the prompt' });
  const [req] = await waitFor('request raised', async () => { const p = await pending(s, 'worker'); return p.length === 1 && p; });
  t.is(req.kind, 'change');
  t.is(req.base, a0.applied);
  t.is(req.head, head);
  t.deepEqual(req.paths, ['prompt.md']);
  t.is(req.proposer, 'local');
  const detail = (await s.api('GET', `/api/approvals/${req.id}`)).body;
  t.regex(detail.patch, /\+You are a careful worker\./);
  t.is(detail.commits[0].subject, 'sharpen the prompt');
  const appr = await s.api('POST', `/api/approvals/${req.id}/approve`, {});
  t.is(appr.status, 200);
  t.is(appr.body.status, 'approved');
  t.is(appr.body.decidedBy, 'operator');
  t.is(refOf(repo, 'applied'), head);
  const a1 = await waitFor('runtime on new revision', async () => { const a = await agent(s, 'worker'); return a.runtime.revision === head && a.runtime.state === 'running' && a; });
  t.not(a1.runtime.pid, a0.runtime.pid);
  t.is(runningRevision(s, 'worker'), head);
  t.is(fs.readFileSync(path.join(s.state, 'agents', 'worker', 'config', 'prompt.md'), 'utf8'), 'You are a careful worker.\n');
  await waitFor('agent logs its revision', () => fs.readFileSync(path.join(s.state, 'agents', 'worker', 'runtime.log'), 'utf8').includes(head));
  const log = (await s.api('GET', '/api/log?agent=worker')).body as any[];
  for (const ev of ['request-raised', 'approved', 'apply-started', 'apply-succeeded']) t.true(log.some((e) => e.event === ev), `log has ${ev}`);
  const audit = (await s.api('GET', '/api/audit?agent=worker')).body as any[];
  const ap = audit.find((e) => e.action === 'approve');
  t.is(ap.actor, 'operator'); t.is(ap.head, head); t.is(ap.patchHash, req.patchHash);
  t.is(ap.approvalId, req.id, 'the approve audit row names the approval it decided');
  t.true(audit.some((e) => e.action === 'propose' && e.actor === 'local'));
});

test('a new push supersedes the open request; approving the old one is refused naming what moved', async (t) => {
  const { s, repo } = await fresh();
  pushByPath(repo, { 'a.txt': 'one\n' });
  const [r1] = await waitFor('r1', async () => { const p = await pending(s, 'worker'); return p.length > 0 && p; });
  const h2 = pushByPath(repo, { 'b.txt': 'two\n' });
  const [r2] = await waitFor('r2', async () => { const p = await pending(s, 'worker'); return p.length > 0 && p[0].id !== r1.id && p; });
  t.is(r2.head, h2);
  t.deepEqual(r2.paths.sort(), ['a.txt', 'b.txt'], 'the request is the net change applied..proposed');
  const old = (await s.api('GET', `/api/approvals/${r1.id}`)).body;
  t.is(old.status, 'superseded');
  t.is(old.supersededBy, r2.id);
  const res = await s.api('POST', `/api/approvals/${r1.id}/approve`, {});
  t.is(res.status, 409);
  t.regex(res.body.error.message, new RegExp(`superseded by request #${r2.id}`));
  t.is((await pending(s, 'worker')).length, 1, 'exactly one open request');
  const unknown = await s.api('POST', '/api/approvals/9999/approve', {});
  t.is(unknown.status, 404);
  t.is((await s.api('POST', `/api/approvals/${r2.id}/approve`, {})).status, 200);
  const again = await s.api('POST', `/api/approvals/${r2.id}/approve`, {});
  t.is(again.status, 409);
  t.regex(again.body.error.message, /is approved/);
});

test('proposed not descending from applied → diverged, nothing applied', async (t) => {
  const { s, repo } = await fresh();
  const applied = refOf(repo, 'applied');
  const head = pushByPath(repo, { 'agent.nix': '{ ... }: { }\n', 'hyperhive.json': '{}\n' }, { orphan: true, force: true, message: 'unrelated history' });
  const req = await waitFor('diverged request', async () => { const l = (await s.api('GET', '/api/approvals?status=diverged&agent=worker')).body as any[]; return l[0]; });
  t.is(req.head, head);
  t.is(req.base, applied);
  const res = await s.api('POST', `/api/approvals/${req.id}/approve`, {});
  t.is(res.status, 409);
  t.is(refOf(repo, 'applied'), applied);
  t.true(((await s.api('GET', '/api/log?agent=worker')).body as any[]).some((e) => e.event === 'request-diverged'));
});

test('reject, not raised again; revert makes the trees equal and applied moves without a request', async (t) => {
  const { s, repo } = await fresh();
  const applied = refOf(repo, 'applied')!;
  pushByPath(repo, { 'hyperhive.json': '{"tools":{"allow":["Bash"],"deny":[]}}\n' }, { message: 'allow all bash' });
  const [req] = await waitFor('request', async () => { const p = await pending(s, 'worker'); return p.length > 0 && p; });
  const rej = await s.api('POST', `/api/approvals/${req.id}/reject`, { reason: 'too broad' });
  t.is(rej.body.status, 'rejected');
  t.is(rej.body.reason, 'too broad');
  const rejAudit = ((await s.api('GET', '/api/audit?agent=worker')).body as any[]).find((e) => e.action === 'reject');
  t.is(rejAudit.approvalId, req.id);
  t.is(rejAudit.reason, 'too broad');
  s.core.reconciler.resync();
  await s.core.reconciler.settled('worker');
  t.is((await s.api('GET', '/api/approvals?agent=worker&status=pending,diverged')).body.length, 0, 'not raised again');
  const rv = await s.api('POST', '/api/agents/worker/revert', {});
  t.is(rv.status, 200);
  const reverted = rv.body.commit;
  await waitFor('applied fast-forwarded to the revert', () => refOf(repo, 'applied') === reverted);
  t.is(gitc(repo, 'rev-parse', `${reverted}^{tree}`), gitc(repo, 'rev-parse', `${applied}^{tree}`));
  t.is(gitc(repo, 'log', '-1', '--format=%an', reverted), 'operator');
  t.is((await s.api('GET', '/api/approvals?agent=worker&status=pending,diverged')).body.length, 0);
  t.true(((await s.api('GET', '/api/log?agent=worker')).body as any[]).some((e) => e.event === 'fast-forward'));
  const again = await s.api('POST', '/api/agents/worker/revert', {});
  t.is(again.status, 409, 'nothing left to revert');
});

test('rollback to an earlier applied revision is a new request approved like any change', async (t) => {
  const { s, repo } = await fresh();
  const first = refOf(repo, 'applied')!;
  pushByPath(repo, { 'notes-for-config.txt': 'v2\n' });
  const [r] = await waitFor('request', async () => { const p = await pending(s, 'worker'); return p.length > 0 && p; });
  await s.api('POST', `/api/approvals/${r.id}/approve`, {});
  const rb = await s.api('POST', '/api/agents/worker/rollback', { revision: first.slice(0, 10) });
  t.is(rb.status, 200, JSON.stringify(rb.body));
  t.truthy(rb.body.approval);
  t.deepEqual(rb.body.approval.paths, ['notes-for-config.txt']);
  await s.api('POST', `/api/approvals/${rb.body.approval.id}/approve`, {});
  t.is(gitc(repo, 'rev-parse', 'applied^{tree}'), gitc(repo, 'rev-parse', `${first}^{tree}`));
  await waitFor('runtime on the rollback', async () => (await agent(s, 'worker')).runtime.revision === rb.body.commit);
  const bad = await s.api('POST', '/api/agents/worker/rollback', { revision: 'deadbeef' });
  t.is(bad.status, 404);
  const notHex = await s.api('POST', '/api/agents/worker/rollback', { revision: 'HEAD~1' });
  t.is(notHex.status, 400);
});

test('suspend: applied may move but nothing is applied until resume', async (t) => {
  const { s, repo } = await fresh();
  const a0 = await waitFor('running', async () => { const a = await agent(s, 'worker'); return a.runtime.state === 'running' && a; });
  t.true((await s.api('POST', '/api/agents/worker/suspend', {})).body.suspended);
  const head = pushByPath(repo, { 'x.txt': 'x\n' });
  const [r] = await waitFor('request', async () => { const p = await pending(s, 'worker'); return p.length > 0 && p; });
  await s.api('POST', `/api/approvals/${r.id}/approve`, {});
  s.core.reconciler.resync();
  await s.core.reconciler.settled('worker');
  const a1 = await agent(s, 'worker');
  t.is(a1.applied, head);
  t.is(a1.runtime.revision, a0.runtime.revision, 'still the old revision while suspended');
  t.is(a1.conditions.find((c: any) => c.type === 'Ready').reason, 'Suspended');
  await s.api('POST', '/api/agents/worker/resume', {});
  await waitFor('applied after resume', async () => (await agent(s, 'worker')).runtime.revision === head);
});

test('model is a commit on live by the operator and restarts nothing', async (t) => {
  const { s, repo } = await fresh();
  const a0 = await waitFor('running', async () => { const a = await agent(s, 'worker'); return a.runtime.state === 'running' && a; });
  t.is(a0.model, 'sonnet');
  const res = await s.api('POST', '/api/agents/worker/model', { model: 'opus' });
  t.is(res.status, 200);
  t.is(res.body.model, 'opus');
  t.is(gitc(repo, 'show', 'live:model'), 'opus');
  t.is(gitc(repo, 'log', '-1', '--format=%an|%s', 'live'), 'operator|Set model to opus');
  await s.core.reconciler.settled('worker');
  const a1 = await agent(s, 'worker');
  t.is(a1.runtime.pid, a0.runtime.pid, 'same process');
  t.is(a1.applied, a0.applied);
  for (const bad of ['bad model', 'x'.repeat(200), '', 42]) {
    const r = await s.api('POST', '/api/agents/worker/model', { model: bad });
    t.is(r.status, 400, `model ${JSON.stringify(bad)}`);
    t.is(r.body.error.code, 'invalid_model');
  }
  t.is(gitc(repo, 'show', 'live:model'), 'opus', 'nothing changed by bad input');
});

test('the approval decision and its audit row commit together: a failing audit insert leaves the request pending and applied unmoved', async (t) => {
  const { s, repo } = await fresh();
  const applied = refOf(repo, 'applied');
  const head = pushByPath(repo, { 'a.txt': 'audited\n' });
  const [req] = await waitFor('request', async () => { const p = await pending(s, 'worker'); return p.length > 0 && p; });
  // Fault injection in the real db: the audit insert of a decision fails as a full disk or a kill would.
  s.core.db.exec("CREATE TRIGGER test_audit_fails BEFORE INSERT ON audit WHEN NEW.action IN ('approve', 'reject') BEGIN SELECT RAISE(ABORT, 'injected audit failure'); END");
  const failed = await s.api('POST', `/api/approvals/${req.id}/approve`, {});
  t.true(failed.status >= 500, JSON.stringify(failed.body));
  const rejFailed = await s.api('POST', `/api/approvals/${req.id}/reject`, { reason: 'no' });
  t.true(rejFailed.status >= 500, JSON.stringify(rejFailed.body));
  const after = (await s.api('GET', `/api/approvals/${req.id}`)).body;
  t.is(after.status, 'pending', 'no decision without its audit row');
  t.is(after.decidedBy, null);
  t.is(s.core.approvalStore.votes(req.id).length, 0, 'the vote rolled back too');
  t.is(refOf(repo, 'applied'), applied, 'applied never moves for an unrecorded decision');
  s.core.db.exec('DROP TRIGGER test_audit_fails');
  const ok = await s.api('POST', `/api/approvals/${req.id}/approve`, {});
  t.is(ok.status, 200, JSON.stringify(ok.body));
  t.is(refOf(repo, 'applied'), head);
  const rows = ((await s.api('GET', '/api/audit?agent=worker')).body as any[]).filter((e) => e.approvalId === req.id);
  t.deepEqual(rows.map((e) => e.action).filter((a) => a === 'approve' || a === 'reject'), ['approve'], 'one decision row: the failed attempts left none');
});

test('a raise is one transaction: a failing audit insert leaves no new request and the open one untouched; the next pass raises it', async (t) => {
  const { s, repo } = await fresh();
  pushByPath(repo, { 'a.txt': 'one\n' });
  const [r1] = await waitFor('r1', async () => { const p = await pending(s, 'worker'); return p.length > 0 && p; });
  // As a kill between the insert and the supersede would: the raise's last write fails.
  s.core.db.exec("CREATE TRIGGER test_propose_fails BEFORE INSERT ON audit WHEN NEW.action = 'propose' BEGIN SELECT RAISE(ABORT, 'injected audit failure'); END");
  const h2 = pushByPath(repo, { 'b.txt': 'two\n' });
  // The pass that tried (and failed) to raise h2 logged its plan.
  await waitFor('a raise attempted', async () => ((await s.api('GET', '/api/log?agent=worker')).body as any[]).some((e) => e.event === 'planned' && e.message.includes(`..${h2.slice(0, 7)}`)));
  // ... and failed: the pass's own error line, then no pass of the agent running or queued.
  await waitFor('the failed raise logged', async () => ((await s.api('GET', '/api/log?agent=worker')).body as any[]).some((e) => e.event === 'reconcile-error' && /injected audit failure/.test(e.message)));
  await s.core.reconciler.settled('worker');
  const open = s.core.db.prepare("SELECT id, head, status FROM approvals WHERE agent = 'worker' AND status IN ('pending', 'diverged')").all() as any[];
  t.deepEqual(open.map((r) => r.id), [r1.id], 'only the old request is open: neither a second request nor a superseded old one');
  t.false(((await s.api('GET', '/api/log?agent=worker')).body as any[]).some((e) => e.event === 'request-raised' && e.data?.head === h2), 'no log line for a request that does not exist');
  s.core.db.exec('DROP TRIGGER test_propose_fails');
  const [r2] = await waitFor('r2 raised by a later pass', async () => { const p = await pending(s, 'worker'); return p.length === 1 && p[0].head === h2 && p; }, 60_000);
  const old = (await s.api('GET', `/api/approvals/${r1.id}`)).body;
  t.is(old.status, 'superseded');
  t.is(old.supersededBy, r2.id);
  const audit = ((await s.api('GET', '/api/audit?agent=worker')).body as any[]).filter((e) => e.action === 'propose');
  t.deepEqual(audit.map((e) => e.approvalId).sort(), [r1.id, r2.id].sort(), 'one propose row per request that exists');
});

test('two open requests (left by a controller killed mid-raise before raises were one transaction): the older is superseded by the newest', async (t) => {
  const { s, repo } = await fresh();
  const head = pushByPath(repo, { 'a.txt': 'one\n' });
  const [r1] = await waitFor('r1', async () => { const p = await pending(s, 'worker'); return p.length > 0 && p; });
  // What such a database holds: a second pending request for the agent, the first never superseded.
  const dup = s.core.approvalStore.insert({ kind: 'change', agent: 'worker', base: r1.base, head, status: 'pending', paths: r1.paths, proposer: 'local', patchHash: r1.patchHash });
  s.core.reconciler.enqueue('worker');
  const old = await waitFor('older superseded', async () => { const a = (await s.api('GET', `/api/approvals/${r1.id}`)).body; return a.status === 'superseded' && a; });
  t.is(old.supersededBy, dup.id);
  t.regex(old.reason, new RegExp(`request #${dup.id} is the agent's open request`));
  t.deepEqual((await pending(s, 'worker')).map((a) => a.id), [dup.id]);
  const appr = await s.api('POST', `/api/approvals/${dup.id}/approve`, {});
  t.is(appr.status, 200, JSON.stringify(appr.body));
  t.is(refOf(repo, 'applied'), head);
});
