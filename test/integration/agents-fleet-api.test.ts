import anyTest, { type TestFn } from 'ava';
import { gitc, pushByPath, refOf, repoOf } from '../helpers/git.ts';
import { createAgents, startServer, type TestServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';

// GET /api/agents's filters, sort and pages (X-Total-Count), its 400s, and POST /api/agents/bulk
// (one audit row per agent, partial failures per agent) against a real server, git and sqlite.

const test = anyTest as TestFn<{ s: TestServer }>;
const NAMES = ['alpha', 'beta', 'delta', 'epsilon', 'gamma', 'zeta'];
type View = { name: string; suspended: boolean; conditions: { type: string; status: string; reason: string }[] };
const stalled = (a: View) => a.conditions.find((c) => c.type === 'Stalled' && c.status === 'True');

test.before(async (t) => {
  t.timeout(180_000);
  const s = await startServer({ prefix: 'hh-fleet-api-' });
  t.context = { s };
  await createAgents(s, NAMES);
  // beta stalls with a reason of its own: its applied ref is gone (AppliedRefMissing).
  gitc(repoOf(s.state, 'beta'), 'update-ref', '-d', 'refs/heads/applied');
  await waitFor('beta stalled', async () => { const a = (await s.api('GET', '/api/agents/beta')).body as View; return stalled(a)?.reason === 'AppliedRefMissing'; });
  await s.api('POST', '/api/agents/gamma/suspend');
  await waitFor('the others ready', async () => {
    const all = (await s.api('GET', '/api/agents')).body as View[];
    return all.filter((a) => a.conditions.some((c) => c.type === 'Ready' && c.status === 'True')).length === NAMES.length - 1;
  }, 60_000);
});
test.after.always(async (t) => { await t.context?.s?.close(); });

async function list(s: TestServer, q: string): Promise<{ status: number; names: string[]; total: string | null; body: any }> {
  const r = await fetch(`${s.url}/api/agents${q}`, { headers: { authorization: `Bearer ${s.token}` } });
  const body = await r.json() as any;
  return { status: r.status, names: Array.isArray(body) ? body.map((a: View) => a.name) : [], total: r.headers.get('x-total-count'), body };
}

test.serial('unpaged without limit (as before), with X-Total-Count; pages by limit/offset in name order', async (t) => {
  const { s } = t.context;
  const all = await list(s, '');
  t.deepEqual(all.names, NAMES);
  t.is(all.total, '6');
  t.truthy(all.body[0].runtime && all.body[0].applied, 'full views, as before');
  const p1 = await list(s, '?limit=4');
  t.deepEqual(p1.names, ['alpha', 'beta', 'delta', 'epsilon']);
  t.is(p1.total, '6');
  const p2 = await list(s, '?limit=4&offset=4');
  t.deepEqual(p2.names, ['gamma', 'zeta']);
  t.is(p2.total, '6');
  t.deepEqual((await list(s, '?limit=2&sort=-name')).names, ['zeta', 'gamma']);
  t.deepEqual((await list(s, '?limit=2&sort=condition')).names[0], 'beta', 'problems first');
});

test.serial('filters: condition with reason, suspended, name part, state; the total counts the matches', async (t) => {
  const { s } = t.context;
  const st = await list(s, '?condition=Stalled&reason=AppliedRefMissing');
  t.deepEqual(st.names, ['beta']);
  t.is(st.total, '1');
  t.deepEqual((await list(s, '?condition=Stalled&reason=CrashLoop')).names, []);
  t.deepEqual((await list(s, '?suspended=1')).names, ['gamma']);
  t.deepEqual((await list(s, '?condition=Ready&suspended=0&q=ta&limit=1')).names, ['delta']);
  t.is((await list(s, '?condition=Ready&suspended=0&q=ta&limit=1')).total, '2', 'delta and zeta match; one shown');
  t.deepEqual((await list(s, '?state=active&q=eps')).names, ['epsilon']);
  t.deepEqual((await list(s, '?state=kept')).names, []);
});

test.serial('bad filter values: 400 naming the parameter and the allowed values', async (t) => {
  const { s } = t.context;
  for (const [q, field, re] of [
    ['condition=Broken', 'condition', /Ready, Stalled, Reconciling/], ['state=zombie', 'state', /active, draft, pending, kept/],
    ['limit=0', 'limit', /from 1 to 1000/], ['offset=x', 'offset', /decimal integer/], ['sort=size', 'sort', /name, state, condition, created, updated/],
    ['suspended=maybe', 'suspended', /1 or 0/], ['reason=a%20b', 'reason', /condition reason/],
  ] as const) {
    const r = await list(s, `?${q}`);
    t.is(r.status, 400, q);
    t.is(r.body.error.code, 'bad_request', q);
    t.regex(r.body.error.message, new RegExp(`^${field} `), q);
    t.regex(r.body.error.message, re, q);
  }
});

test.serial('bulk suspend by filter: one audit row per agent, already-suspended unchanged, then resume by names with an unknown one failing alone', async (t) => {
  const { s } = t.context;
  const before = (await s.api('GET', '/api/audit')).body.length;
  const r = await s.api('POST', '/api/agents/bulk', { action: 'suspend', filter: { q: 'ta' } });
  t.is(r.status, 200, JSON.stringify(r.body));
  t.like(r.body, { action: 'suspend', matched: 3, done: 3, unchanged: 0, failed: 0 });
  t.deepEqual(r.body.results.map((x: { name: string; result: string }) => `${x.name}:${x.result}`), ['beta:done', 'delta:done', 'zeta:done']);
  const audit = (await s.api('GET', '/api/audit')).body as { action: string; agent: string; data: { bulk?: string } }[];
  t.is(audit.length - before, 3);
  const rows = audit.filter((e) => e.action === 'suspend' && e.data.bulk === r.body.id);
  t.deepEqual(rows.map((e) => e.agent).sort(), ['beta', 'delta', 'zeta'], 'one row per agent, tagged with the bulk id');
  t.deepEqual((await list(s, '?suspended=1')).names, ['beta', 'delta', 'gamma', 'zeta']);

  const again = await s.api('POST', '/api/agents/bulk', { action: 'suspend', names: ['gamma', 'delta'] });
  t.like(again.body, { matched: 2, done: 0, unchanged: 2 });

  const res = await s.api('POST', '/api/agents/bulk', { action: 'resume', names: ['beta', 'delta', 'zeta', 'gamma', 'nobody'] });
  t.is(res.status, 200);
  t.like(res.body, { matched: 5, done: 4, failed: 1 });
  const nobody = res.body.results.find((x: { name: string }) => x.name === 'nobody');
  t.is(nobody.result, 'failed');
  t.is(nobody.error.code, 'agent_not_found');
  t.deepEqual((await list(s, '?suspended=1')).names, [], 'the unknown name did not stop the others');
});

test.serial('bulk reject-requests ("approve none"): every open request of the selected agents rejected with the reason, one audit row each', async (t) => {
  const { s } = t.context;
  for (const n of ['alpha', 'epsilon']) pushByPath(repoOf(s.state, n), { 'prompt.md': `changed ${n}\n` });
  const ids = await waitFor('two requests', async () => {
    const open = (await s.api('GET', '/api/approvals?status=pending')).body as { id: number; agent: string }[];
    return open.filter((a) => a.agent === 'alpha' || a.agent === 'epsilon').length === 2 && open.map((a) => a.id);
  });
  const r = await s.api('POST', '/api/agents/bulk', { action: 'reject-requests', names: ['alpha', 'epsilon', 'zeta'], reason: 'freeze for the release' });
  t.is(r.status, 200);
  t.like(r.body, { matched: 3, done: 2, unchanged: 1, failed: 0 });
  t.deepEqual(r.body.results.flatMap((x: { rejected: number[] }) => x.rejected).sort(), [...ids].sort());
  for (const id of ids) {
    const a = (await s.api('GET', `/api/approvals/${id}`)).body;
    t.is(a.status, 'rejected');
    t.is(a.decidedBy, 'operator');
  }
  const audit = (await s.api('GET', '/api/audit')).body as { action: string; agent: string; reason: string }[];
  const rejects = audit.filter((e) => e.action === 'reject' && e.reason?.startsWith('freeze for the release'));
  t.deepEqual(rejects.map((e) => e.agent).sort(), ['alpha', 'epsilon']);
  t.truthy(refOf(repoOf(s.state, 'alpha'), 'proposed'), 'proposed keeps its commits');
});

test.serial('bulk bad input: 400 naming the field', async (t) => {
  const { s } = t.context;
  for (const [body, re] of [
    [{ action: 'destroy', names: ['alpha'] }, /^action must be one of suspend, resume, reject-requests/],
    [{ action: 'suspend' }, /give either "names"/],
    [{ action: 'suspend', names: ['alpha'], filter: {} }, /not both/],
    [{ action: 'suspend', names: [] }, /non-empty list/],
    [{ action: 'suspend', names: ['Bad Name'] }, /"names": /],
    [{ action: 'suspend', filter: { condition: 'Broken' } }, /^filter: condition must be one of/],
    [{ action: 'suspend', filter: { limit: '5' } }, /limit has no place/],
  ] as const) {
    const r = await s.api('POST', '/api/agents/bulk', body);
    t.is(r.status, 400, JSON.stringify(body));
    t.regex(r.body.error.message, re, JSON.stringify(body));
  }
  t.deepEqual((await list(s, '?suspended=1')).names, [], 'nothing was acted on');
});
