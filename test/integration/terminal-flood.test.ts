import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, httpJson, spawnCli, waitHealthy } from '../helpers/cli-server.ts';
import { tmpDir } from '../helpers/paths.ts';
import { createAgents, startServer } from '../helpers/server.ts';
import { openTerminal } from '../helpers/terminal.ts';
import { waitFor } from '../helpers/wait.ts';

// A flood of output through the terminal: flow control (byte watermarks, the PTY paused while the
// slowest viewer is behind) keeps the controller's memory bounded and Ctrl-C responsive.

/** The bound this test holds the controller to: resident memory may grow at most this much during the flood. */
const RSS_GROWTH_BOUND_MB = 80;

const rssMb = (pid: number): number => Number(/^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

test(`yes | head -c 50M through a real \`hyperhive serve\`: its resident memory grows less than ${RSS_GROWTH_BOUND_MB} MB and Ctrl-C stops an endless yes, the session answering`, async (t) => {
  t.timeout(600_000);
  const state = tmpDir('hh-term-flood-');
  const server = spawnCli(state, await freePort(), { HYPERHIVE_AGENT_COMMAND: 'idle' });
  t.teardown(async () => { await server.term().catch(() => server.kill9()); fs.rmSync(state, { recursive: true, force: true }); });
  await waitHealthy(server);
  const token = fs.readFileSync(path.join(state, 'operator.token'), 'utf8').trim();
  t.is((await httpJson(server.url, 'POST', '/api/agents', { token, body: { name: 'alice' } })).status, 201);
  await waitFor('alice running', async () => (await httpJson(server.url, 'GET', '/api/agents/alice', { token })).body.runtime.state === 'running', 60_000);

  const a = await openTerminal(server.url, 'alice', { token, cols: 120, rows: 40, keep: 64 * 1024 });
  await a.message('hello');
  a.type('echo warm-$((1+1))\r');
  await a.expect(/warm-2\r?\n/);
  const baseline = rssMb(server.pid);
  let peak = baseline;
  const sampler = setInterval(() => { try { peak = Math.max(peak, rssMb(server.pid)); } catch { /* gone */ } }, 100);
  t.teardown(() => clearInterval(sampler));

  const start = a.bytes();
  const t0 = Date.now();
  a.type('yes | head -c 50M; echo END-$((40+2))\r');
  await a.expect(/END-42\r?\n/, { from: start, timeoutMs: 480_000 });
  const secs = (Date.now() - t0) / 1000;
  clearInterval(sampler);
  const got = a.bytes() - start;
  t.true(got >= 50 * 1024 * 1024, `all of it arrived (${(got / 1048576).toFixed(1)} MB)`);
  t.log(`50 MB of yes (${(got / 1048576).toFixed(1)} MB on the wire) in ${secs.toFixed(1)} s; controller RSS ${baseline.toFixed(0)} MB → peak ${peak.toFixed(0)} MB`);
  t.true(peak - baseline < RSS_GROWTH_BOUND_MB, `RSS grew ${(peak - baseline).toFixed(0)} MB (bound ${RSS_GROWTH_BOUND_MB} MB)`);

  // An endless flood, interrupted: the prompt comes back and the session answers.
  const mark = a.bytes();
  a.type('yes\r');
  await waitFor('a flood under way', () => a.bytes() - mark > 2 * 1024 * 1024, 120_000);
  const c0 = Date.now();
  a.type('\x03');
  a.type('echo ALIVE-$((6*7))\r');
  await a.expect(/ALIVE-42\r?\n/, { from: mark, timeoutMs: 60_000 });
  t.log(`Ctrl-C to the next command's answer: ${Date.now() - c0} ms`);
  t.true(rssMb(server.pid) - baseline < RSS_GROWTH_BOUND_MB);
  await a.close();
});

test('a viewer that stops acknowledging holds the PTY only until it is dropped as too slow; the others go on', async (t) => {
  t.timeout(300_000);
  const s = await startServer({ prefix: 'hh-term-slow-', terminal: { stallMs: 1500, pingMs: 500 } });
  t.teardown(() => s.close());
  await createAgents(s, ['alice']);
  await waitFor('alice running', async () => (await s.api('GET', '/api/agents/alice')).body.runtime.state === 'running');
  const fast = await openTerminal(s.url, 'alice', { token: s.token, keep: 64 * 1024 });
  await fast.message('hello');
  const slow = await openTerminal(s.url, 'alice', { token: s.token, ack: false, keep: 1024 });
  await slow.message('hello');
  const mark = fast.bytes();
  fast.type('yes | head -c 5M; echo DONE-$((3*3))\r');
  const dropped = await slow.message('ended', 60_000);
  t.is(dropped.reason, 'slow');
  t.regex(dropped.message, /did not keep up/);
  t.is((await slow.closed).code, 4429);
  t.true(slow.bytes() < 5 * 1024 * 1024, `the slow viewer got only part of it (${slow.bytes()} bytes): the PTY waited for it`);
  await fast.expect(/DONE-9\r?\n/, { from: mark, timeoutMs: 120_000 });
  t.true(fast.bytes() - mark >= 5 * 1024 * 1024);
  await fast.close();
});
