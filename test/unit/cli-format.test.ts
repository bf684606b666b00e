import test from 'ava';
import { formatApproval, formatApprovals } from '../../controller/cli/format.ts';

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

test('show: says whether the config evaluates, with the error and that approve is refused', (t) => {
  const show = (o: Record<string, unknown>) => formatApproval({ ...req(o), patch: 'diff --git a/agent.nix b/agent.nix\n', reason: null, commits: [] });
  t.regex(show({ data: { configCheck: 'ok' } }), /^config evaluates$/m);
  t.regex(show({ data: { configCheck: 'failed' }, error: 'config does not evaluate: undefined variable `x`' }), /^config does not evaluate: undefined variable `x` \(approve is refused\)$/m);
  t.regex(show({}), /^config being evaluated \(or checks are off\)$/m);
  t.notRegex(show({ status: 'superseded' }), /^config/m);
});
