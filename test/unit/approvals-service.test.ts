import test from 'ava';
import { decide } from '../../controller/approvals/decide.ts';
import { isHyperhiveError } from '../../controller/errors.ts';
import { readRefs } from '../../repos/refs.ts';
import { fakeCore, OPERATOR, propose, running, until } from '../helpers/fake-core.ts';

const ALICE = { kind: 'operator' as const, name: 'alice' };
const BOB = { kind: 'operator' as const, name: 'bob' };

test('decide: any rejection rejects; the quorum counts distinct approvers; nothing else decides', (t) => {
  const v = (by: string, decision: 'approve' | 'reject', at = 1) => ({ by, decision, at });
  t.deepEqual(decide([], { required: 1 }), { status: 'pending', approvals: 0, required: 1 });
  t.deepEqual(decide([v('a', 'approve')], { required: 1 }), { status: 'approved', by: ['a'] });
  t.deepEqual(decide([v('a', 'approve'), v('a', 'approve', 2)], { required: 2 }), { status: 'pending', approvals: 1, required: 2 }, 'one operator twice is one vote');
  t.deepEqual(decide([v('a', 'approve'), v('b', 'approve')], { required: 2 }), { status: 'approved', by: ['a', 'b'] });
  t.deepEqual(decide([v('a', 'approve'), v('b', 'reject')], { required: 1 }), { status: 'rejected', by: 'b' });
  t.deepEqual(decide([v('a', 'approve')], { required: 0 }), { status: 'approved', by: ['a'] }, 'a quorum below one is one');
  t.deepEqual(decide([v('a', 'approve'), v('b', 'approve')], { required: 2, excluded: ['a'] }), { status: 'pending', approvals: 1, required: 2 }, "the proposer's approval does not count");
  t.deepEqual(decide([v('a', 'reject')], { required: 2, excluded: ['a'] }), { status: 'rejected', by: 'a' }, 'the proposer may still reject');
});

test('approving a change moves applied through moveApplied (one audit row), marks it completed, publishes the decision, and the runtime runs it', async (t) => {
  const f = await fakeCore(t);
  await f.core.controller.createAgent('alpha', OPERATOR);
  const head = await propose(f, 'alpha', { 'prompt.md': 'new prompt\n' });
  const req = f.core.controller.openChange('alpha')!;
  t.is(req.head, head);
  const done = await f.core.controller.approve(req.id, ALICE, 'looks right');
  t.is(done.status, 'approved');
  t.is(done.decidedBy, 'alice');
  t.true(done.data.applied as boolean, 'completed');
  t.is((await readRefs(f.core.paths.repo('alpha'))).applied, head);
  const audit = f.core.log.auditTrail({ agent: 'alpha' }).filter((e) => e.approvalId === req.id);
  t.deepEqual(audit.map((e) => e.action).sort(), ['approve', 'propose'], 'the decision row is the sanctioning row: no second one');
  t.true(f.events.some((e) => e.type === 'request.decided' && e.id === req.id && e.status === 'approved' && e.by === 'alice'));
  await running(f, 'alpha', head);
  t.deepEqual(f.core.approvalStore.votes(req.id).map((v) => [v.voter, v.decision]), [['alice', 'approve']]);
});

test('with a quorum of two, the first vote waits (audited, applied unmoved), a second by the same operator or the proposer is refused, and another operator approves', async (t) => {
  const f = await fakeCore(t, { approvalPolicy: () => ({ required: 2 }) });
  await f.core.controller.createAgent('alpha', OPERATOR);
  const base = (await readRefs(f.core.paths.repo('alpha'))).applied;
  const head = await propose(f, 'alpha', { 'prompt.md': 'two votes\n' }, 'carol');
  const req = f.core.controller.openChange('alpha')!;
  const first = await f.core.controller.approve(req.id, ALICE);
  t.is(first.status, 'pending');
  t.is((await readRefs(f.core.paths.repo('alpha'))).applied, base);
  t.true(f.core.log.auditTrail({ agent: 'alpha' }).some((e) => e.action === 'vote' && e.actor === 'alice' && e.approvalId === req.id));
  const again = await t.throwsAsync(() => f.core.controller.approve(req.id, ALICE));
  t.true(isHyperhiveError(again) && again.code === 'conflict', 'the same operator twice is refused');
  t.regex(again!.message, /alice already approved request #\d+; the same operator counts once: it needs 1 more approval from another operator/);
  const own = await t.throwsAsync(() => f.core.controller.approve(req.id, { kind: 'operator', name: 'carol' }));
  t.true(isHyperhiveError(own) && own.code === 'forbidden', "the proposer's approval is refused");
  t.deepEqual(f.core.controller.approvalView(f.core.controller.getApproval(req.id)).votes.map((v) => v.by), ['alice']);
  t.is(f.core.controller.approvalView(f.core.controller.getApproval(req.id)).required, 2);
  const second = await f.core.controller.approve(req.id, BOB);
  t.is(second.status, 'approved');
  t.is((await readRefs(f.core.paths.repo('alpha'))).applied, head);
});

test('reject: decided at once, audited, handler-free kinds fine, and the pair is not raised again', async (t) => {
  const f = await fakeCore(t);
  await f.core.controller.createAgent('alpha', OPERATOR);
  await propose(f, 'alpha', { 'prompt.md': 'no\n' });
  const req = f.core.controller.openChange('alpha')!;
  const r = await f.core.controller.reject(req.id, ALICE, 'too broad');
  t.is(r.status, 'rejected');
  t.is(r.reason, 'too broad');
  t.true(f.core.log.auditTrail({ agent: 'alpha' }).some((e) => e.action === 'reject' && e.approvalId === req.id && e.reason === 'too broad'));
  f.core.reconciler.enqueue('alpha');
  await f.core.reconciler.settled('alpha');
  t.is(f.core.controller.openChange('alpha'), null, 'not raised again');
  const err = await t.throwsAsync(() => f.core.controller.approve(req.id, ALICE));
  t.true(isHyperhiveError(err) && err.code === 'not_pending');
});

test('a stale request is refused before any vote; an agent cannot decide; an unknown id is approval_not_found', async (t) => {
  const f = await fakeCore(t);
  await f.core.controller.createAgent('alpha', OPERATOR);
  await propose(f, 'alpha', { 'prompt.md': 'one\n' });
  const old = f.core.controller.openChange('alpha')!;
  // proposed moves on; the old request is superseded by the pass, but approving it by id must not act.
  const repo = f.core.paths.repo('alpha');
  const { proposed } = await readRefs(repo);
  const { commitFiles } = await import('../../repos/commit.ts');
  const { identityFor } = await import('../../repos/identity.ts');
  await commitFiles(repo, { branch: 'proposed', files: { 'prompt.md': 'two\n' }, message: 'two', author: identityFor('bob'), expectedOld: proposed!, pusher: 'bob' });
  const err = await t.throwsAsync(() => f.core.controller.approve(old.id, ALICE));
  t.true(isHyperhiveError(err) && (err.code === 'stale_approval' || err.code === 'not_pending'), err?.message);
  t.deepEqual(f.core.approvalStore.votes(old.id), [], 'no vote recorded for a refused approval');
  const agent = await t.throwsAsync(() => f.core.controller.approve(old.id, { kind: 'agent', name: 'alpha' }));
  t.true(isHyperhiveError(agent) && agent.code === 'forbidden');
  const missing = await t.throwsAsync(() => f.core.controller.approve(999, ALICE));
  t.true(isHyperhiveError(missing) && missing.code === 'approval_not_found');
});

test('restart recovery: an approved change whose applied never moved is completed by the next pass, through moveApplied', async (t) => {
  const f = await fakeCore(t);
  await f.core.controller.createAgent('alpha', OPERATOR);
  const head = await propose(f, 'alpha', { 'prompt.md': 'crash between decision and swap\n' });
  const req = f.core.controller.openChange('alpha')!;
  // What a controller killed right after recording the decision leaves behind.
  f.core.approvalStore.atomically(() => {
    f.core.approvalStore.vote(req.id, 'alice', 'approve', null);
    f.core.approvalStore.update(req.id, { status: 'approved', decidedBy: 'alice', decidedAt: Date.now() });
    f.core.log.audit({ actor: 'alice', action: 'approve', agent: 'alpha', approvalId: req.id, base: req.base, head: req.head });
  });
  f.core.reconciler.enqueue('alpha');
  await until('the request completed', () => f.core.approvalStore.get(req.id)!.data.applied === true);
  t.is((await readRefs(f.core.paths.repo('alpha'))).applied, head);
  t.true(f.core.log.list({ agent: 'alpha' }).some((e) => e.event === 'approval-completed' && e.data.approval === req.id));
  t.is(f.core.log.auditTrail({ agent: 'alpha' }).filter((e) => e.action === 'approve' && e.approvalId === req.id).length, 1, 'no second sanctioning row');
  await running(f, 'alpha', head);
});

test('restart recovery: applied already moved before the crash → only the marker; head no longer reachable → failed, with the reason', async (t) => {
  const f = await fakeCore(t);
  await f.core.controller.createAgent('alpha', OPERATOR);
  await propose(f, 'alpha', { 'prompt.md': 'swapped before the crash\n' });
  const req = f.core.controller.openChange('alpha')!;
  f.core.approvalStore.update(req.id, { status: 'approved', decidedBy: 'alice', decidedAt: Date.now() });
  await f.core.moveApplied('alpha', req.base, req.head!, 'approve', 'alice', { approvalId: req.id });
  f.core.reconciler.enqueue('alpha');
  await until('completed', () => f.core.approvalStore.get(req.id)!.data.applied === true);
  t.is(f.core.approvalStore.get(req.id)!.status, 'approved');

  // An approved request for a pair that no longer matches anything: failed, and the decision event says so.
  const f2 = await fakeCore(t);
  await f2.core.controller.createAgent('beta', OPERATOR);
  await propose(f2, 'beta', { 'prompt.md': 'x\n' });
  const r2 = f2.core.controller.openChange('beta')!;
  f2.core.approvalStore.update(r2.id, { status: 'approved', decidedBy: 'alice', decidedAt: Date.now() });
  // applied moves elsewhere behind the request (a sanctioned repair to a sibling commit).
  const repo = f2.core.paths.repo('beta');
  const { git } = await import('../../repos/git.ts');
  const tree = (await git(['rev-parse', `${r2.base}^{tree}`], { repo })).stdout.toString().trim();
  const sibling = (await git(['commit-tree', tree, '-p', r2.base!, '-m', 'sibling'], { repo, env: { GIT_AUTHOR_NAME: 'x', GIT_AUTHOR_EMAIL: 'x@x', GIT_COMMITTER_NAME: 'x', GIT_COMMITTER_EMAIL: 'x@x' } })).stdout.toString().trim();
  await f2.core.moveApplied('beta', r2.base, sibling, 'repair', 'operator');
  f2.core.reconciler.enqueue('beta');
  const failed = await until('failed', () => { const a = f2.core.approvalStore.get(r2.id)!; return a.status === 'failed' ? a : null; });
  t.regex(failed.error ?? '', /no longer descends/);
  t.true(f2.events.some((e) => e.type === 'request.decided' && e.id === r2.id && e.status === 'failed'));
});

test('restart recovery of a spawn: approved but the agent still pending → the next pass makes it active at the approved commit', async (t) => {
  const f = await fakeCore(t);
  const { spawner, controller, approvalStore } = f.core;
  await spawner.requestSpawnDraft('gamma', OPERATOR);
  const head = await controller.proposeFiles('gamma', { 'prompt.md': 'drafted\n' }, 'draft prompt', { kind: 'agent', name: 'manager' });
  const { approval } = await spawner.requestSpawnCommit('gamma', head, { kind: 'agent', name: 'manager' });
  t.is(controller.findAgent('gamma')!.state, 'pending');
  approvalStore.update(approval!.id, { status: 'approved', decidedBy: 'alice', decidedAt: Date.now() });
  f.core.log.audit({ actor: 'alice', action: 'approve-spawn', agent: 'gamma', approvalId: approval!.id, base: approval!.base, head: approval!.head });
  f.core.reconciler.enqueue('gamma');
  await until('gamma active', () => controller.findAgent('gamma')!.state === 'active');
  t.is((await readRefs(f.core.paths.repo('gamma'))).applied, head);
  t.true(approvalStore.get(approval!.id)!.data.applied as boolean);
  await running(f, 'gamma', head);
});

test('a rejected spawn of a draft commit makes the agent a draft again (the kind handler, not a UI event)', async (t) => {
  const f = await fakeCore(t);
  const { spawner, controller } = f.core;
  await spawner.requestSpawnDraft('delta', OPERATOR);
  const head = await controller.proposeFiles('delta', { 'prompt.md': 'd\n' }, 'd', { kind: 'agent', name: 'manager' });
  const { approval } = await spawner.requestSpawnCommit('delta', head, { kind: 'agent', name: 'manager' });
  await controller.reject(approval!.id, ALICE, 'not now');
  t.is(controller.findAgent('delta')!.state, 'draft');
  t.true(f.core.log.list({ agent: 'delta' }).some((e) => e.event === 'spawn-rejected'));
});

test('moveApplied writes its audit row before the swap: a refused swap leaves applied as it was and throws ref_moved', async (t) => {
  const f = await fakeCore(t);
  await f.core.controller.createAgent('alpha', OPERATOR);
  const head = await propose(f, 'alpha', { 'prompt.md': 'p\n' });
  const before = (await readRefs(f.core.paths.repo('alpha'))).applied;
  const err = await t.throwsAsync(() => f.core.moveApplied('alpha', head, head, 'fast-forward', 'controller'));
  t.true(isHyperhiveError(err) && err.code === 'ref_moved', err?.message);
  t.is((await readRefs(f.core.paths.repo('alpha'))).applied, before);
  t.true(f.core.log.hasAudit({ action: 'fast-forward', agent: 'alpha', base: head, head }));
});
