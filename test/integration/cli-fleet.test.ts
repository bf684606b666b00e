import test from 'ava';
import { execFile } from 'node:child_process';
import { gitc, repoOf } from '../helpers/git.ts';
import { CLI as BIN } from '../helpers/paths.ts';
import { createAgents, startServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';

// `hyperhive agents` with filters and pages, and `hyperhive bulk`, against a real server in this process.

const run = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as any).code === 'number' ? (err as any).code : 1) : 0, stdout, stderr });
    });
  });

test('agents --state/--condition/--reason/--q/--limit/--offset, bulk by names and --all-matching, exit codes 0/1/2 and help', async (t) => {
  t.timeout(180_000);
  const s = await startServer({ prefix: 'hh-cli-fleet-' });
  t.teardown(() => s.close());
  await createAgents(s, ['alpha', 'beta', 'gamma', 'web-one', 'web-two']);
  gitc(repoOf(s.state, 'beta'), 'update-ref', '-d', 'refs/heads/applied');
  await waitFor('beta stalled', async () => (await s.api('GET', '/api/agents?condition=Stalled&reason=AppliedRefMissing')).body.length === 1);
  const S = ['--state', s.state, '--url', s.url];
  const names = async (args: string[]) => { const r = await run(['agents', '--json', ...S, ...args]); t.is(r.code, 0, r.stderr); return JSON.parse(r.stdout).map((a: { name: string }) => a.name); };

  t.deepEqual(await names([]), ['alpha', 'beta', 'gamma', 'web-one', 'web-two']);
  t.deepEqual(await names(['--condition', 'Stalled', '--reason', 'AppliedRefMissing']), ['beta']);
  t.deepEqual(await names(['--q', 'web']), ['web-one', 'web-two']);
  t.deepEqual(await names(['--state', 'active', '--limit', '2', '--offset', '1']), ['beta', 'gamma'], '--state twice: the dir and the filter');
  t.deepEqual(await names(['--state', 'kept']), []);
  const page = await run(['agents', ...S, '--limit', '2']);
  t.regex(page.stdout, /^alpha\s+active/m);
  t.regex(page.stdout, /showing 1–2 of 5 \(next: --offset 2\)/);

  for (const [args, re] of [
    [['--condition', 'Broken'], /--condition: condition must be one of Ready, Stalled, Reconciling/],
    [['--limit', '0'], /--limit: limit must be a decimal integer from 1 to 1000/],
    [['--offset', '3'], /--offset needs --limit/],
    [['--sort', 'size'], /--sort: sort must be one of/],
  ] as const) {
    const r = await run(['agents', ...S, ...args]);
    t.is(r.code, 2, args.join(' '));
    t.regex(r.stderr, re, args.join(' '));
    t.regex(r.stderr, /usage: hyperhive agents/);
  }

  const sus = await run(['bulk', 'suspend', '--all-matching', '--q', 'web', ...S]);
  t.is(sus.code, 0, sus.stderr);
  t.regex(sus.stdout, /web-one: done\nweb-two: done\nsuspend: 2 done, 0 unchanged, 0 failed of 2 \(bulk [0-9a-f]{8}\)/);
  t.deepEqual(await names(['--suspended']), ['web-one', 'web-two']);
  const audit = (await s.api('GET', '/api/audit')).body as { action: string; agent: string }[];
  t.deepEqual(audit.filter((e) => e.action === 'suspend').map((e) => e.agent).sort(), ['web-one', 'web-two']);

  const res = await run(['bulk', 'resume', 'web-one', 'nobody', 'web-two', ...S]);
  t.is(res.code, 1, 'an agent failed: exit 1');
  t.regex(res.stderr, /^nobody: no agent named "nobody"/m);
  t.regex(res.stdout, /resume: 2 done, 0 unchanged, 1 failed of 3/);
  t.deepEqual(await names(['--suspended']), []);

  for (const args of [['bulk', 'explode', 'alpha'], ['bulk', 'suspend'], ['bulk', 'suspend', 'alpha', '--all-matching'], ['bulk', 'suspend', 'alpha', '--q', 'al'], ['bulk', 'suspend', 'alpha', '--message', 'x']]) {
    const r = await run([...args, ...S]);
    t.is(r.code, 2, args.join(' '));
    t.regex(r.stderr, /usage: hyperhive bulk/, args.join(' '));
  }
  for (const cmd of ['agents', 'bulk']) {
    const h = await run([cmd, '--help']);
    t.is(h.code, 0);
    t.regex(h.stdout, new RegExp(`^usage: hyperhive ${cmd} `));
    t.regex(h.stdout, /--condition C/);
  }
});
