// A destroyed agent stays destroyed across a controller restart: kept, not started, its old token refused.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { agentToken, createAgents, startServer } from '../helpers/server.ts';
import { tmpDir } from '../helpers/paths.ts';
import { waitFor } from '../helpers/wait.ts';

test('kept across a restart; a revive approved after it starts the agent with a new token', async (t) => {
  const state = tmpDir('hh-life-restart-');
  t.teardown(() => fs.rmSync(state, { recursive: true, force: true }));
  const s1 = await startServer({ state });
  await createAgents(s1, ['worker']);
  const old = agentToken(state, 'worker');
  t.is((await s1.api('POST', '/api/agents/worker/destroy', {})).status, 200);
  await s1.close({ keepState: true });

  const s2 = await startServer({ state });
  t.teardown(() => s2.close());
  const a = (await s2.api('GET', '/api/agents/worker')).body;
  t.like(a, { state: 'kept', kept: true, destroyed: { by: 'operator' } });
  t.is(a.runtime.state, 'none', 'not started by the new controller');
  t.false(fs.existsSync(path.join(state, 'agents', 'worker', 'token')), 'no token file was made for it');
  t.is((await s2.api('POST', '/api/agents/worker/turns', {}, { authorization: `Bearer ${old}` })).status, 401);
  const rv = await s2.api('POST', '/api/agents/worker/revive', {});
  t.is((await s2.api('POST', `/api/approvals/${rv.body.id}/approve`, {})).status, 200);
  await waitFor('worker running', async () => (await s2.api('GET', '/api/agents/worker')).body.runtime.state === 'running');
  t.not(agentToken(state, 'worker'), old);
});
