import test from 'ava';
import { formatAgentDetail, formatApproval, formatApprovals } from '../../controller/cli/format.ts';

const req = (o: Record<string, unknown> = {}) => ({
  id: 3, kind: 'change', agent: 'alpha', base: 'a'.repeat(40), head: 'b'.repeat(40), status: 'pending', paths: ['agent.nix'],
  proposer: 'local', createdAt: Date.now(), decidedBy: null, error: null, data: {}, ...o,
});

test('approvals: a CONFIG column with the check verdict (ok, failed, … while evaluating, - where none applies)', (t) => {
  const out = formatApprovals([
    req({ id: 1, data: { configCheck: 'ok' } }),
    req({ id: 2, data: { configCheck: 'failed' }, error: 'config does not evaluate: boom' }),
    req({ id: 3 }),
    req({ id: 4, status: 'superseded' }),
    req({ id: 5, kind: 'spawn', base: null, head: null }),
  ]);
  const lines = out.split('\n');
  t.regex(lines[0]!, /^ID\s+KIND\s+AGENT\s+STATUS\s+CONFIG\s+BASE\.\.HEAD/);
  const config = (id: number) => lines.find((l) => l.startsWith(`#${id} `))!.split(/\s+/)[4];
  t.deepEqual([1, 2, 3, 4, 5].map(config), ['ok', 'failed', '…', '-', '-']);
});

test('approvals: QUORUM shows approvals so far of a quorum above one; a tool request shows its call', (t) => {
  const out = formatApprovals([
    req({ id: 1, required: 2, votes: [{ by: 'alice', decision: 'approve' }] }),
    req({ id: 2, kind: 'tool', base: null, head: null, paths: [], tool: { name: 'Bash', input: { command: 'npm test' } } }),
  ]);
  const lines = out.split('\n');
  t.regex(lines[0]!, /QUORUM\s+PATHS \/ CALL$/);
  t.regex(lines.find((l) => l.startsWith('#1 '))!, /\s1\/2\s/);
  t.regex(lines.find((l) => l.startsWith('#2 '))!, /\s-\s+Bash npm test$/);
  const shown = formatApproval({ ...req({ id: 1, required: 2, votes: [{ by: 'alice', decision: 'approve' }] }), patch: '', reason: null, commits: [] });
  t.regex(shown, /^votes alice \(approve\); 2 approval\(s\) required$/m);
});

test('show: says whether the config evaluates, with the error and that approve is refused', (t) => {
  const show = (o: Record<string, unknown>) => formatApproval({ ...req(o), patch: 'diff --git a/agent.nix b/agent.nix\n', reason: null, commits: [] });
  t.regex(show({ data: { configCheck: 'ok' } }), /^config evaluates$/m);
  t.regex(show({ data: { configCheck: 'failed' }, error: 'config does not evaluate: undefined variable `x`' }), /^config does not evaluate: undefined variable `x` \(approve is refused\)$/m);
  t.regex(show({}), /^config being evaluated \(or checks are off\)$/m);
  t.notRegex(show({ status: 'superseded' }), /^config/m);
});

test('agent detail: conditions without empty messages, runtime, revisions, the open request with its config verdict, the last 10 operations', (t) => {
  const agent = {
    name: 'alpha', state: 'active', applied: 'a'.repeat(40), proposed: 'b'.repeat(40), live: 'c'.repeat(40), model: 'sonnet', suspended: false,
    conditions: [{ type: 'Ready', status: 'True', reason: 'Running', message: 'running applied revision aaaaaaa' }, { type: 'Stalled', status: 'False', reason: 'None', message: '' }],
    runtime: { state: 'running', revision: 'a'.repeat(40), isolated: false, pid: 42, startedAt: Date.now() - 120_000, restarts: 2, note: 'process runtime: isolates nothing' },
    lastAppliedRevision: 'a'.repeat(40), lastAttemptedRevision: 'a'.repeat(40),
    history: Array.from({ length: 12 }, (_, i) => ({ ts: Date.UTC(2026, 0, 1, 0, i), op: 'apply', revision: 'a'.repeat(40), result: 'ok', message: `step ${i}` })),
  };
  const out = formatAgentDetail(agent, [req({ id: 9, status: 'pending', proposer: 'manager', data: { configCheck: 'failed' } })]);
  t.regex(out, /^Stalled=False None$/m);
  t.regex(out, /^runtime {6}running on aaaaaaa, pid 42, up 2m, 2 restart\(s\)$/m);
  t.regex(out, /^revisions {4}applied aaaaaaa, proposed bbbbbbb, live ccccccc/m);
  t.regex(out, /^open request #9 pending aaaaaaa\.\.bbbbbbb by manager \(config failed\)$/m);
  t.notRegex(out, /step 1$/m, 'only the last 10 operations');
  t.regex(out, /2026-01-01T00:02:00\.000Z  apply +aaaaaaa  ok +step 2$/m);
  t.regex(out, /step 11$/m);
  t.regex(formatAgentDetail(agent, []), /^open request none$/m);
});
