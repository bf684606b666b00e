// destroy, revive, purge, rename and `agents --all` through the CLI's own entry point against a real server.
import test from 'ava';
import fs from 'node:fs';
import { main } from '../../controller/cli.ts';
import { repoOf } from '../helpers/git.ts';
import { createAgents, startServer, type TestServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';

let s: TestServer;
test.before(async () => {
  s = await startServer({ prefix: 'hh-cli-life-' });
  await createAgents(s, ['worker', 'other']);
});
test.after.always(async () => { await s?.close(); });

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = ''; let err = '';
  const code = await main([...argv, '--state', s.state], { out: (l) => { out += `${l}\n`; }, err: (l) => { err += `${l}\n`; } });
  return { code, out, err };
}

test.serial('every lifecycle command has help', async (t) => {
  for (const c of ['destroy', 'revive', 'purge', 'rename']) {
    const r = await cli(c, '--help');
    t.is(r.code, 0, c);
    t.regex(r.out, new RegExp(`^usage: hyperhive ${c} NAME`), c);
  }
});

test.serial('destroy → agents --all lists it kept; revive raises a request; approve; purge needs --yes', async (t) => {
  const applied = (await s.api('GET', '/api/agents/worker')).body.applied as string;
  const d = await cli('destroy', 'worker', '--reason', 'spring cleaning');
  t.is(d.code, 0, d.err);
  t.regex(d.out, /^destroyed worker: runtime stopped, its token no longer works; repo and state kept \(\d+ B\), applied [0-9a-f]{7}/);
  const plain = await cli('agents');
  t.notRegex(plain.out, /\bworker\b/, 'not in the running fleet');
  const all = await cli('agents', '--all');
  t.regex(all.out, /kept state \(destroyed; repo and state kept\):\n {2}worker +destroyed \d{4}-\d\d-\d\dT[\d:]+Z by operator, state \d+ B, applied [0-9a-f]{7} — spring cleaning/);
  const json = JSON.parse((await cli('agents', '--all', '--json')).out) as any[];
  t.like(json.find((a) => a.name === 'worker'), { state: 'kept', kept: true, destroyed: { by: 'operator', reason: 'spring cleaning', applied } });
  t.regex((await cli('agent', 'worker')).out, /kept state \(destroyed; repo and state kept\):\n {2}worker +destroyed .* by operator/);
  const again = await cli('destroy', 'worker');
  t.is(again.code, 1);
  t.regex(again.err, /destroyed already/);

  const noYes = await cli('purge', 'other');
  t.is(noYes.code, 2, 'without --yes: bad usage');
  t.regex(noYes.err, /pass --yes to confirm/);
  const active = await cli('purge', 'other', '--yes');
  t.is(active.code, 1, 'an active agent is refused');
  t.regex(active.err, /only a destroyed \(kept\) agent can be purged/);

  const rv = await cli('revive', 'worker');
  t.is(rv.code, 0, rv.err);
  const id = /revive request #(\d+)/.exec(rv.out)?.[1];
  t.truthy(id);
  t.regex(rv.out, new RegExp(`would start at applied ${applied.slice(0, 7)}`));
  t.is((await cli('approve', id!)).code, 0);
  await waitFor('worker running', async () => { const a = (await s.api('GET', '/api/agents/worker')).body; return a.state === 'active' && a.runtime.state === 'running'; });

  t.is((await cli('destroy', 'worker')).code, 0);
  const p = await cli('purge', 'worker', '--yes');
  t.is(p.code, 0, p.err);
  t.regex(p.out, new RegExp(`^purged worker: repo and state \\(.*\\) deleted, final applied ${applied.slice(0, 7)}`));
  t.false(fs.existsSync(repoOf(s.state, 'worker')));
});

test.serial('rename is refused: not supported', async (t) => {
  const r = await cli('rename', 'other', 'another');
  t.is(r.code, 1);
  t.regex(r.err, /renaming is not supported/);
});
