import test from 'ava';
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { pushByPath } from '../helpers/git.ts';
import { freePort } from '../helpers/cli-server.ts';
import { CLI as BIN, tmpDir } from '../helpers/paths.ts';
import { waitFor } from '../helpers/wait.ts';

const run = (args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as any).code === 'number' ? (err as any).code : 1) : 0, stdout, stderr });
    });
  });

test('the CLI drives a real server end to end, with exit codes 0/1/2', async (t) => {
  const state = tmpDir('hh-cli-');
  const port = await freePort();
  const server = spawn(process.execPath, [BIN, 'serve', '--state', state, '--listen', `127.0.0.1:${port}`], { env: { ...process.env, HYPERHIVE_LOG_STDERR: '0', HYPERHIVE_AGENT_COMMAND: 'idle' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  server.stdout.on('data', (d) => { out += d; });
  t.teardown(() => { server.kill('SIGTERM'); });
  await waitFor('server start', () => out.includes('operator token:'), 60_000);
  t.true(out.includes(path.join(state, 'operator.token')), 'prints the token file path');
  t.false(out.includes(fs.readFileSync(path.join(state, 'operator.token'), 'utf8').trim()), 'never the token');
  const S = ['--state', state];

  t.is((await run(['agent', 'create', 'worker', ...S])).code, 0);
  const dup = await run(['agent', 'create', 'worker', ...S]);
  t.is(dup.code, 1);
  t.regex(dup.stderr, /already exists/);
  const bad = await run(['agent', 'create', 'Bad', ...S]);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /invalid agent name/);

  const agents = JSON.parse((await run(['agents', '--json', ...S])).stdout);
  t.is(agents[0].name, 'worker');
  for (const k of ['name', 'state', 'applied', 'proposed', 'live', 'model', 'conditions', 'runtime', 'suspended', 'kept']) t.true(k in agents[0], k);
  t.regex((await run(['agents', ...S])).stdout, /worker\s+active/);

  const head = pushByPath(path.join(state, 'repos', 'worker.git'), { 'prompt.md': 'new prompt\n' });
  const reqs = await waitFor('request', async () => { const l = JSON.parse((await run(['approvals', '--json', ...S])).stdout); return l.length > 0 && l; });
  t.is(reqs[0].head, head);
  const show = await run(['show', String(reqs[0].id), ...S]);
  t.regex(show.stdout, /\+new prompt/);
  const ap = await run(['approve', String(reqs[0].id), ...S]);
  t.is(ap.code, 0, ap.stderr);
  t.regex(ap.stdout, new RegExp(`applied is now ${head.slice(0, 7)}`));
  const again = await run(['approve', String(reqs[0].id), ...S]);
  t.is(again.code, 1);
  t.regex(again.stderr, /is approved/);
  t.is((await run(['approve', '4242', ...S])).code, 1);

  // Rollback: to the first revision, a request; to the one applied now, no request (same tree).
  const rb = await run(['rollback', 'worker', agents[0].applied.slice(0, 7), ...S]);
  t.is(rb.code, 0, rb.stderr);
  t.regex(rb.stdout, /^rollback proposed as [0-9a-f]{7}: request #\d+ waits for approval$/m);
  const detail = await run(['agent', 'worker', ...S]);
  t.is(detail.code, 0, detail.stderr);
  t.regex(detail.stdout, /^open request #\d+ pending [0-9a-f]{7}\.\.[0-9a-f]{7} by operator \(config /m);
  t.regex(detail.stdout, /^runtime {6}running on [0-9a-f]{7}, pid \d+/m);
  t.regex(detail.stdout, new RegExp(`approve +${head.slice(0, 7)} +ok +request #${reqs[0].id} approved by operator`));
  const same = await run(['rollback', 'worker', head.slice(0, 7), ...S]);
  t.is(same.code, 0, same.stderr);
  t.regex(same.stdout, /has the tree applied already runs: applied moved to it without a request/);
  const badRev = await run(['rollback', 'worker', 'zzzz', ...S]);
  t.is(badRev.code, 1);
  t.regex(badRev.stderr, /revision must be a commit SHA/);

  const m = await run(['model', 'worker', 'opus', ...S]);
  t.is(m.code, 0, m.stderr);
  const mb = await run(['model', 'worker', 'two words', ...S]);
  t.is(mb.code, 1);
  t.regex(mb.stderr, /invalid model/);
  t.is((await run(['suspend', 'worker', ...S])).code, 0);
  t.true(JSON.parse((await run(['agent', 'worker', '--json', ...S])).stdout).suspended);
  t.is((await run(['resume', 'worker', ...S])).code, 0);
  const logs = await run(['logs', 'worker', ...S]);
  t.regex(logs.stdout, /request-raised/);
  const rj = await run(['reject', '1', ...S]);
  t.is(rj.code, 2, 'reject without --reason is a usage error');
  t.regex(rj.stderr, /--reason/);
  t.is((await run(['frobnicate', ...S])).code, 2);
  t.is((await run(['agents', '--bogus', ...S])).code, 2);
  for (const cmd of ['serve', 'agents', 'approvals', 'show', 'approve', 'reject', 'revert', 'rollback', 'suspend', 'resume', 'model', 'logs', 'repair']) {
    const h = await run([...cmd.split(' '), '--help']);
    t.is(h.code, 0, cmd);
    t.regex(h.stdout, /usage: hyperhive/);
  }
  t.is((await run(['agent', 'create', '--help'])).code, 0);

  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  const down = await run(['agents', ...S]);
  t.is(down.code, 1);
  t.regex(down.stderr, /no hyperhive server answers/);
  // A clean stop removes server.json: the message says the URL was only the default, and how to start one.
  t.false(fs.existsSync(path.join(state, 'server.json')));
  t.regex(down.stderr, new RegExp(`URL from the default: no ${state.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/server\\.json, so no server is running on this state dir`));
  t.regex(down.stderr, new RegExp(`hyperhive serve --state ${state.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  const none = await run(['agents', '--state', tmpDir('hh-empty-')]);
  t.is(none.code, 1);
  t.regex(none.stderr, /no operator token/);
});

test('serve refuses a taken port with a clear message', async (t) => {
  const blocker = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => blocker.once('listening', r));
  const port = (blocker.address() as net.AddressInfo).port;
  const r = await run(['serve', '--state', tmpDir('hh-port-'), '--listen', `127.0.0.1:${port}`]);
  blocker.close();
  t.is(r.code, 1);
  t.regex(r.stderr, /already in use/);
  const bad = await run(['serve', '--state', tmpDir('hh-port-'), '--listen', 'nonsense']);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /--listen must be HOST:PORT/);
});
