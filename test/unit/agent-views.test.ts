import test from 'ava';
import path from 'node:path';
import { AgentViews } from '../../controller/agents/views.ts';
import type { AgentRecord } from '../../controller/agents/store.ts';
import type { AgentStatusRecord } from '../../controller/reconciler/status.ts';
import type { Condition } from '../../controller/reconciler/types.ts';
import type { RuntimeStatus } from '../../controller/runtime/types.ts';
import { RefCache } from '../../repos/ref-cache.ts';
import { git } from '../../repos/git.ts';
import { repoFixture } from '../helpers/repos.ts';

// AgentViews part by part, with nothing else moving: each part a view shows, changed alone, makes a
// new view on the next call; with no part changed the same view (and JSON string) comes back. A real
// bare repo with its hook; the other parts are plain values the test swaps.

const fx = repoFixture('agent-views');
test.after.always(() => fx.cleanup());

async function setup() {
  const { dir, repo, roots } = await fx.make();
  const ready: Condition[] = [{ type: 'Ready', status: 'True', reason: 'Running', message: 'ok' }];
  const s = {
    status: { lastAppliedRevision: roots.config, lastAttemptedRevision: roots.config, conditions: ready, history: [], failures: 0, nextAttemptAt: null } as AgentStatusRecord,
    runtime: { state: 'running', revision: roots.config, building: null, isolated: false, pid: 10, startedAt: 1, restarts: 0, note: '', kind: 'fake' } as RuntimeStatus,
    conditions: null as Condition[] | null,
    models: 0,
  };
  const views = new AgentViews({
    repo: () => repo, refs: new RefCache(path.join(dir, 'refs.jsonl'), { now: () => 0 }),
    model: async () => { s.models += 1; return null; },
    status: () => s.status, runtime: () => s.runtime, runtimeKind: 'fake',
    conditions: () => s.conditions ?? s.status.conditions, kept: () => null,
  });
  const record: AgentRecord = { name: 'a', state: 'active', suspended: false, createdAt: 5, createdBy: 'op', updatedAt: 5 } as AgentRecord;
  return { repo, roots, s, views, record };
}

test('no part changed: the same view and the same JSON string', async (t) => {
  const { views, record, s } = await setup();
  const v = await views.view(record);
  const j = await views.json(record);
  t.is(await views.view({ ...record }), v, 'an equal record (another object) is the same part');
  t.is(await views.json(record), j);
  t.is(j, JSON.stringify(v));
  t.is(s.models, 1, 'the model was read once');
});

test('each part changed alone makes a new view', async (t) => {
  const x = await setup();
  const { views, s, repo, roots } = x;
  let record = x.record;
  let v = await views.view(record);
  const next = async (why: string, r: AgentRecord = record) => {
    const w = await views.view(r);
    t.not(w, v, why);
    t.is(await views.json(r), JSON.stringify(w), `${why}: its JSON`);
    v = w;
    return w;
  };

  const tree = (await git(['rev-parse', `${roots.config}^{tree}`], { repo })).stdout.toString().trim();
  const sha = (await git(['commit-tree', tree, '-p', roots.config, '-m', 'n'], { repo, env: { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@x' } })).stdout.toString().trim();
  await git(['update-ref', 'refs/heads/proposed', sha], { repo });
  t.is((await next('a ref')).proposed, sha);

  record = { ...record, suspended: true };
  t.true((await next('the record')).suspended);
  s.status = { ...s.status, history: [{ ts: 2, op: 'apply', revision: sha, result: 'ok', message: 'm' }] };
  t.is((await next('the status record (replaced on every write)')).history.length, 1);
  s.runtime = { ...s.runtime, restarts: 1, pid: 11 };
  t.is((await next('the runtime')).runtime.pid, 11);
  s.runtime = { ...s.runtime, note: 'moved' };
  t.is((await next('the runtime note')).runtime.note, 'moved');
  s.conditions = [{ type: 'Stalled', status: 'True', reason: 'Stuck', message: 'z' }];
  t.is((await next('merged conditions')).conditions[0]!.reason, 'Stuck');
  s.conditions = [{ type: 'Stalled', status: 'True', reason: 'AuthFailed', message: 'z' }];
  t.is((await next('other merged conditions')).conditions[0]!.reason, 'AuthFailed');
  t.is(await views.view(record), v, 'and nothing changed since: the same again');
});
