// The quorum rules of policy.json apply to revive and destroy requests as to every other kind.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { createAgents, startServer } from '../helpers/server.ts';
import { tmpDir } from '../helpers/paths.ts';

test('a revive under a two-operator quorum needs a second operator', async (t) => {
  const state = tmpDir('hh-life-quorum-');
  // agent.nix is among the files a revive starts, so the rule covers it.
  fs.writeFileSync(path.join(state, 'policy.json'), JSON.stringify({ quorum: [{ agent: '*', paths: ['agent.nix'], approvals: 2 }] }));
  const s = await startServer({ state });
  t.teardown(async () => { await s.close(); fs.rmSync(state, { recursive: true, force: true }); });
  await createAgents(s, ['worker']);
  const alice = (await s.api('POST', '/api/operators', { name: 'alice' })).body.token as string;
  t.is((await s.api('POST', '/api/agents/worker/destroy', {})).status, 200);
  const rv = await s.api('POST', '/api/agents/worker/revive', {});
  t.is(rv.status, 201);
  t.is(rv.body.required, 2, 'the request needs two approvals');
  const self = await s.api('POST', `/api/approvals/${rv.body.id}/approve`, {});
  t.is(self.status, 403, "the proposer's own approval does not count under a quorum");
  const first = await s.api('POST', `/api/approvals/${rv.body.id}/approve`, {}, { authorization: `Bearer ${alice}` });
  t.is(first.status, 200);
  t.is(first.body.status, 'pending', 'one approval of two');
  t.is((await s.api('GET', '/api/agents/worker')).body.state, 'kept', 'still kept');
  const bob = (await s.api('POST', '/api/operators', { name: 'bob' })).body.token as string;
  const second = await s.api('POST', `/api/approvals/${rv.body.id}/approve`, {}, { authorization: `Bearer ${bob}` });
  t.is(second.body.status, 'approved');
  t.is((await s.api('GET', '/api/agents/worker')).body.state, 'active');
});
