import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, waitFor } from '../helpers/core.ts';

const CLAUDE = path.resolve('node_modules/.bin/claude');
const present = fs.existsSync(CLAUDE);
const maybe = present ? test : test.skip;
if (!present) test('real claude CLI (skipped: node_modules/.bin/claude is not installed; npm ci installs @anthropic-ai/claude-code)', (t) => { t.log('skipped: claude CLI absent'); t.pass(); });

maybe('the harness runs the real claude CLI without credentials: the turn is auth, the agent Stalled with that reason, no retry loop', async (t) => {
  const s = await startServer({ agentCommand: undefined, agentCli: CLAUDE });
  t.teardown(() => s.close());
  t.is((await s.api('POST', '/api/agents', { name: 'worker' })).status, 201);
  await waitFor(async () => (await s.api('GET', '/api/agents/worker')).body.runtime.state === 'running', 'harness running', 60_000);
  t.is((await s.api('POST', '/api/agents/worker/messages', { body: 'hello, are you there?' })).status, 201);
  const a = await waitFor(async () => {
    const a = (await s.api('GET', '/api/agents/worker')).body;
    return a.conditions.find((c: any) => c.type === 'Stalled' && c.status === 'True' && c.reason === 'AuthFailed') && a;
  }, 'Stalled AuthFailed', 120_000);
  const stalled = a.conditions.find((c: any) => c.type === 'Stalled');
  t.regex(stalled.message, /log|auth/i);
  // No retry loop: give it time to misbehave, then count the auth turns.
  await new Promise((r) => setTimeout(r, 8000));
  const st = (await s.api('GET', '/api/stats?agent=worker&key=class:auth&since=-1h')).body;
  const turns = st.points.reduce((n: number, p: [number, number]) => n + p[1], 0);
  t.is(turns, 1, 'exactly one auth turn, not retried');
  const log = (await s.api('GET', '/api/log?agent=worker')).body as any[];
  t.true(log.some((e) => e.event === 'turn' && /auth/.test(e.message)), 'the turn is in the reconciliation log');
  // resume clears the stall
  await s.api('POST', '/api/agents/worker/resume', {});
  await waitFor(async () => {
    const a2 = (await s.api('GET', '/api/agents/worker')).body;
    return !a2.conditions.some((c: any) => c.type === 'Stalled' && c.status === 'True') && a2;
  }, 'resume clears the stall', 30_000);
});
