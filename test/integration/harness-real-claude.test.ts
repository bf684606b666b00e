import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { startServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';

const CLAUDE = path.resolve('node_modules/.bin/claude');
// Decided before any test is declared: without the CLI this test is reported as skipped, with the reason, never as passed.
const absent = (() => {
  try { fs.accessSync(CLAUDE, fs.constants.X_OK); return null; } catch (e) { return `${CLAUDE} is not installed or not executable (${(e as NodeJS.ErrnoException).code}); npm ci installs @anthropic-ai/claude-code`; }
})();
const TITLE = 'the harness runs the real claude CLI without credentials: the turn is auth, the agent Stalled with that reason, no retry loop';
const maybe = absent ? test.skip : test;
if (absent) console.log(`harness-real-claude: skipped: ${absent}`);

maybe(absent ? `${TITLE} (skipped: ${absent})` : TITLE, async (t) => {
  const s = await startServer({ agentCommand: undefined, agentCli: CLAUDE });
  t.teardown(() => s.close());
  t.is((await s.api('POST', '/api/agents', { name: 'worker' })).status, 201);
  await waitFor('harness running', async () => (await s.api('GET', '/api/agents/worker')).body.runtime.state === 'running', 60_000);
  t.is((await s.api('POST', '/api/agents/worker/messages', { body: 'hello, are you there?' })).status, 201);
  const a = await waitFor('Stalled AuthFailed', async () => {
    const a = (await s.api('GET', '/api/agents/worker')).body;
    return a.conditions.find((c: any) => c.type === 'Stalled' && c.status === 'True' && c.reason === 'AuthFailed') && a;
  }, 120_000);
  const stalled = a.conditions.find((c: any) => c.type === 'Stalled');
  t.regex(stalled.message, /log|auth/i);
  // No retry loop: after an auth turn the harness waits on recv for a new message (a retry would run
  // the turn again without calling recv). Its long-poll waiting on the bus is the positive signal.
  await waitFor('the harness back in recv, waiting for a new message', () => s.bus.waiting('worker') > 0, 60_000);
  const st = (await s.api('GET', '/api/stats?agent=worker&key=class:auth&since=-1h')).body;
  const turns = st.points.reduce((n: number, p: [number, number]) => n + p[1], 0);
  t.is(turns, 1, 'exactly one auth turn, not retried');
  const log = (await s.api('GET', '/api/log?agent=worker')).body as any[];
  t.true(log.some((e) => e.event === 'turn' && /auth/.test(e.message)), 'the turn is in the reconciliation log');
  // resume clears the stall
  await s.api('POST', '/api/agents/worker/resume', {});
  await waitFor('resume clears the stall', async () => {
    const a2 = (await s.api('GET', '/api/agents/worker')).body;
    return !a2.conditions.some((c: any) => c.type === 'Stalled' && c.status === 'True') && a2;
  }, 30_000);
});
