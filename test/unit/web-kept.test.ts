import test from 'ava';
import type { AgentView } from '../../controller/controller.ts';
import type { Approval } from '../../controller/approvals/store.ts';
import { keptBanner, keptSection, reviveRequestBody } from '../../web/views/kept.ts';

const kept = (over: Partial<AgentView> = {}): AgentView => ({
  name: 'alpha', state: 'kept', applied: 'a'.repeat(40), proposed: 'a'.repeat(40), live: 'c'.repeat(40), model: null, conditions: [],
  runtime: { state: 'none', revision: null, building: null, isolated: false, pid: null, startedAt: null, restarts: 0, note: '', kind: 'process' },
  suspended: false, kept: true, lastAppliedRevision: null, lastAttemptedRevision: null, history: [], createdAt: 0, createdBy: 'operator',
  destroyed: { at: 60_000, by: 'operator', stateBytes: 5000, applied: 'a'.repeat(40), reason: '<script>x</script>', requestedBy: 'manager', approvalId: 3 },
  ...over,
});

test('kept section: when and by whom, who asked, state size, applied, revive and a purge form naming the agent; reasons escaped', (t) => {
  const page = keptSection([{ agent: kept(), revive: null }], 120_000, 'tok').value;
  t.regex(page, /<section class="hh-section" id="kept" data-live>/);
  t.regex(page, /destroyed <time[^>]*>1m ago<\/time> by <strong data-testid="destroyed-by">operator<\/strong> <span class="hh-muted">\(asked by manager\)<\/span>/);
  t.regex(page, /&lt;script&gt;x&lt;\/script&gt;/);
  t.false(page.includes('<script>x'));
  t.regex(page, /data-testid="state-size">4.9 KB</);
  t.regex(page, /action="\/agents\/alpha\/revive"/);
  t.regex(page, /action="\/agents\/alpha\/purge"[\s\S]*name="confirm" required/);
  t.regex(page, /name="_csrf" value="tok"/);
});

test('kept section: hidden when empty; an open revive request replaces the button with its link', (t) => {
  t.regex(keptSection([], 0, null).value, /id="kept" data-live hidden/);
  const rq = { id: 7, kind: 'revive' } as Approval;
  const page = keptSection([{ agent: kept(), revive: rq }], 0, null).value;
  t.regex(page, /href="\/approvals\/7" data-testid="revive-request">revive request #7 waits/);
  t.false(page.includes('data-testid="revive"'));
  t.regex(keptBanner({ agent: kept(), revive: null }, 120_000, null).value, /kept<\/span> alpha destroyed/);
});

test('revive request: the revision, state size, config files and hyperhive.json (escaped)', (t) => {
  const a = { id: 1, kind: 'revive', agent: 'alpha', head: 'b'.repeat(40), data: { stateBytes: 2048, destroyedBy: 'operator', destroyedAt: 0, surface: '{"env": {"X": "<b>"}}', files: [{ path: 'agent.nix', size: 10 }] } } as unknown as Approval;
  const page = reviveRequestBody(a).value;
  t.regex(page, /title="b{40}" data-testid="revive-head">bbbbbbbb</);
  t.regex(page, /revive-state-size">2.0 KB</);
  t.regex(page, /<code>agent.nix<\/code>/);
  t.regex(page, /&lt;b&gt;/);
});
