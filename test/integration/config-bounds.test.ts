import test from 'ava';
import path from 'node:path';
import { findNixInstantiate } from '../../controller/harness/surface.ts';
import { pushByPath, refOf } from '../helpers/git.ts';
import { startServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';

// An agent's push of an evaluation bomb, through a real controller with config checks on and the
// real nix-instantiate: the request gets the memory verdict within the bound, approving it is
// refused, and the controller answers meanwhile.

const nix = await findNixInstantiate();
const withNix = nix ? test : test.skip;
if (!nix) console.log('skipped: nix-instantiate not found: the config-check bounds are not exercised');

const BOMB = '{ config, lib, pkgs, ... }:\n{\n  hyperhive = { tools = { allow = [ (toString (builtins.length (builtins.genList (x: x * 2) 500000000))) ]; }; };\n}\n';

withNix('the genList bomb pushed to proposed gets "evaluation exceeded 512 MB" as its config verdict; the server stays responsive', async (t) => {
  t.timeout(120_000);
  const s = await startServer({ configCheck: true });
  t.teardown(() => s.close());
  await s.api('POST', '/api/agents', { name: 'worker' });
  const repo = path.join(s.state, 'repos', 'worker.git');
  const applied = refOf(repo, 'applied');

  const pushedAt = Date.now();
  pushByPath(repo, { 'agent.nix': BOMB }, { message: 'a bomb' });
  // Health checks all along the evaluation: each must answer, and fast.
  const slowest = { ms: 0 };
  let answered = 0;
  let verdict: { error: string | null; data: { configCheck?: string } } | null = null;
  while (!verdict) {
    const h0 = Date.now();
    const health = await s.api('GET', '/api/health');
    t.is(health.status, 200);
    answered++;
    slowest.ms = Math.max(slowest.ms, Date.now() - h0);
    const [req] = (await s.api('GET', '/api/approvals?agent=worker&status=pending')).body as { id: number }[];
    if (req) {
      const d = (await s.api('GET', `/api/approvals/${req.id}`)).body;
      if (d.data?.configCheck) verdict = d;
    }
    if (Date.now() - pushedAt > 60_000) t.fail('no config verdict within 60 s');
    await new Promise((r) => setTimeout(r, 25));
  }
  t.log(`verdict after ${Date.now() - pushedAt} ms; ${answered} health checks, slowest ${slowest.ms} ms`);
  t.is(verdict.data.configCheck, 'failed');
  t.regex(verdict.error ?? '', /agent\.nix: evaluation exceeded 512 MB/);
  t.true(slowest.ms < 2000, `a health check took ${slowest.ms} ms`);

  const [req] = (await s.api('GET', '/api/approvals?agent=worker&status=pending')).body as { id: number }[];
  const res = await s.api('POST', `/api/approvals/${req!.id}/approve`, {});
  t.is(res.status, 422);
  t.regex(res.body.error.message, /exceeded 512 MB/);
  t.is(refOf(repo, 'applied'), applied, 'nothing applied');
  await waitFor('health after the approve', async () => (await s.api('GET', '/api/health')).status === 200);
});
