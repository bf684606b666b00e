import test from 'ava';
import { ToolGate } from '../../controller/tools/gate.ts';
import { fakeCore, OPERATOR, until } from '../helpers/fake-core.ts';

// The ToolGate on the whole controller with the FakeRuntime: policy first, then a request that waits,
// wakes its waiters on a decision, survives a restart (its timeout re-armed from the row), and ends when
// the agent's process does.

const call = (command: string) => ({ toolName: 'Bash', input: { command }, toolUseId: `toolu_${command}` });

test('policy first; a queued call wakes its waiter when decided; a restarted gate times out what waited too long', async (t) => {
  const f = await fakeCore(t, { toolTimeoutMs: 60_000 });
  await f.core.controller.createAgent('alpha', OPERATOR);
  const gate = f.core.tools;
  gate.start();
  t.teardown(() => gate.stop());
  t.like(await gate.ask('alpha', call('git status')), { status: 'allow', by: 'policy', pattern: 'Bash(git *)' });
  t.is(f.core.approvalStore.list({ kind: 'tool' }).length, 0, 'nothing queued for a call the surface allows');

  const q = await gate.ask('alpha', call('npm test'));
  t.is(q.status, 'pending');
  t.true(f.events.some((e) => e.type === 'request.raised' && e.kind === 'tool' && e.id === q.id));
  t.like(await gate.wait('alpha', q.id!, 10), { status: 'pending' }, 'a bounded wait answers pending');
  const waiting = gate.wait('alpha', q.id!, 30_000);
  await f.core.controller.approve(q.id!, { kind: 'operator', name: 'alice' });
  t.like(await waiting, { status: 'allow', by: 'alice' });

  const late = await gate.ask('alpha', call('make deploy'));
  gate.stop();
  // A controller started 61 s later finds the request overdue: denied at once, with the reason.
  const later = new ToolGate({
    store: f.core.approvalStore, approvals: f.core.approvals, log: f.core.log, events: f.core.events,
    requireAgent: (n) => f.core.controller.requireAgent(n), surface: async () => null, timeoutMs: 60_000, now: () => Date.now() + 61_000,
  });
  later.start();
  t.teardown(() => later.stop());
  const a = f.core.approvalStore.get(late.id!)!;
  t.is(a.status, 'expired');
  t.like(later.answerOf(a), { status: 'deny', message: `Denied: no operator answered within 60 s (tool request #${late.id}). The call did not run; carry on without it or ask the operator another way.` });
  t.like(await later.ask('alpha', call('make deploy')), { id: late.id, status: 'deny' }, 'asking again for the same tool_use_id finds the same request');
});

test("a waiting call ends when the agent's process does; a draft asks nothing", async (t) => {
  const f = await fakeCore(t, { toolTimeoutMs: 60_000 });
  await f.core.controller.createAgent('alpha', OPERATOR);
  await f.core.controller.createAgent('drafty', OPERATOR, 'draft');
  f.core.tools.start();
  t.teardown(() => f.core.tools.stop());
  const q = await f.core.tools.ask('alpha', call('npm test'));
  await until('alpha running', () => f.runtime.status('alpha').state === 'running');
  await f.core.runtime.stop('alpha');
  const a = await until('expired', () => { const r = f.core.approvalStore.get(q.id!)!; return r.status === 'expired' ? r : null; });
  t.regex(a.reason!, /the agent's process ended \(stopped\) before an operator answered/);
  t.true(f.core.log.auditTrail({ agent: 'alpha' }).some((e) => e.action === 'tool-timeout' && e.approvalId === q.id));
  const err = await t.throwsAsync(() => f.core.tools.ask('drafty', call('ls')));
  t.regex(err!.message, /agent drafty is draft: it runs no turns/);
});
