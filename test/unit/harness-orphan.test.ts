import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_ORPHAN_TIMEOUT_MS, orphanTimeoutMs, probeHealth, watchOrphan, type OrphanClock, type OrphanWatchOptions } from '../../controller/harness/orphan.mjs';
import { orphanTimeoutFromEnv } from '../../controller/serve.ts';
import { waitFor } from '../helpers/wait.ts';

/** A clock the test moves: `advance` runs every due interval callback, in order, as time passes. */
function fakeClock(): OrphanClock & { advance(ms: number): void; timers: number } {
  let now = 1_000_000;
  let nextId = 0;
  const timers = new Map<number, { every: number; due: number; fn: () => void }>();
  return {
    now: () => now,
    every(ms, fn) { const id = nextId++; timers.set(id, { every: ms, due: now + ms, fn }); return () => { timers.delete(id); }; },
    advance(ms) {
      const end = now + ms;
      for (;;) {
        const next = [...timers.values()].filter((x) => x.due <= end).sort((a, b) => a.due - b.due)[0];
        if (!next) break;
        now = next.due;
        next.due += next.every;
        next.fn();
      }
      now = end;
    },
    get timers() { return timers.size; },
  };
}

function watched(over: Partial<OrphanWatchOptions> = {}) {
  const clock = fakeClock();
  const present = new Set(['/s/agents/a/token', '/s/agents/a/state']);
  const reasons: string[] = [];
  let probes = 0;
  let healthy = false;
  const w = watchOrphan({
    timeoutMs: 10_000, checkEveryMs: 1_000, probeEveryMs: 3_000, clock, watch: false,
    paths: { 'token file': '/s/agents/a/token', 'state dir': '/s/agents/a/state' },
    exists: (p) => present.has(p),
    probe: async () => { probes++; return healthy; },
    onOrphan: (r) => reasons.push(r),
    ...over,
  });
  return { w, clock, present, reasons, probes: () => probes, setHealthy: (v: boolean) => { healthy = v; } };
}

const settle = () => new Promise((r) => setImmediate(r));

test('no answer for the timeout: orphaned once, with the reason and the variable named; the timer stops', async (t) => {
  const h = watched();
  h.clock.advance(9_000);
  await settle();
  t.deepEqual(h.reasons, []);
  t.true(h.probes() >= 1, 'the silent controller was asked /api/health');
  h.clock.advance(1_000);
  t.is(h.reasons.length, 1);
  t.regex(h.reasons[0]!, /no answer from the controller for 10000 ms \(HYPERHIVE_ORPHAN_TIMEOUT_MS=10000\)/);
  t.true(h.w.fired);
  t.is(h.clock.timers, 0, 'no check runs after it fired');
  h.clock.advance(60_000);
  t.is(h.reasons.length, 1, 'fired once');
});

test('answers keep it alive: seen() from the harness, or a healthy probe while it is silent', async (t) => {
  const h = watched();
  for (let i = 0; i < 10; i++) { h.clock.advance(5_000); h.w.seen(); }
  t.deepEqual(h.reasons, [], 'a sign of life every 5 s of a 10 s timeout');
  h.setHealthy(true);
  for (let i = 0; i < 20; i++) { h.clock.advance(1_000); await settle(); }
  t.deepEqual(h.reasons, [], 'the health probe alone keeps it alive through a long turn');
  h.setHealthy(false);
  for (let i = 0; i < 11; i++) { h.clock.advance(1_000); await settle(); }
  t.is(h.reasons.length, 1, 'once the probe fails too, the timeout runs from the last answer');
});

test('the deadline does not wait for a probe that never answers', async (t) => {
  const h = watched({ probe: () => new Promise<boolean>(() => {}) });
  h.clock.advance(10_000);
  t.is(h.reasons.length, 1);
});

test('token file or state dir gone: orphaned at the next check, naming which', (t) => {
  const h = watched();
  h.clock.advance(1_000);
  h.present.delete('/s/agents/a/token');
  t.deepEqual(h.reasons, []);
  h.clock.advance(1_000);
  t.deepEqual(h.reasons, ['token file /s/agents/a/token is gone']);

  const g = watched();
  g.present.delete('/s/agents/a/state');
  g.w.check();
  t.deepEqual(g.reasons, ['state dir /s/agents/a/state is gone']);
});

test('already gone at start: orphaned at once', (t) => {
  const reasons: string[] = [];
  watchOrphan({ timeoutMs: 10_000, paths: { 'token file': '/nope/token' }, exists: () => false, watch: false, clock: fakeClock(), onOrphan: (r) => reasons.push(r) });
  t.deepEqual(reasons, ['token file /nope/token is gone']);
});

test('a file event is checked at once, before the next periodic check (real fs.watch)', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hh-orphan-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const token = path.join(dir, 'token');
  fs.writeFileSync(token, 'x\n');
  const reasons: string[] = [];
  // The fake clock never advances: only the watcher can notice.
  const w = watchOrphan({ timeoutMs: 10_000, paths: { 'token file': token, 'state dir': dir }, clock: fakeClock(), onOrphan: (r) => reasons.push(r) });
  t.teardown(() => w.stop());
  fs.rmSync(token);
  await waitFor('the watcher to notice the deleted token file', () => reasons.length > 0, 10_000);
  t.deepEqual(reasons, [`token file ${token} is gone`]);
});

test('intervals fit a short timeout; unset paths are skipped', (t) => {
  const clock = fakeClock();
  const reasons: string[] = [];
  watchOrphan({ timeoutMs: 400, paths: { 'token file': undefined, 'state dir': '' }, exists: () => false, watch: false, clock, onOrphan: (r) => reasons.push(r) });
  clock.advance(399);
  t.deepEqual(reasons, []);
  clock.advance(101);
  t.is(reasons.length, 1, 'checked every 100 ms (a quarter of the timeout): fired by 500 ms');
});

test('HYPERHIVE_ORPHAN_TIMEOUT_MS: default 10 min, positive whole numbers only, the variable named', (t) => {
  t.is(orphanTimeoutMs({}), DEFAULT_ORPHAN_TIMEOUT_MS);
  t.is(DEFAULT_ORPHAN_TIMEOUT_MS, 600_000);
  t.is(orphanTimeoutMs({ HYPERHIVE_ORPHAN_TIMEOUT_MS: '' }), 600_000);
  t.is(orphanTimeoutMs({ HYPERHIVE_ORPHAN_TIMEOUT_MS: '3000' }), 3000);
  for (const bad of ['0', '-1', '1.5', '1e3', 'abc', '0x10', '99999999999999999999']) {
    t.throws(() => orphanTimeoutMs({ HYPERHIVE_ORPHAN_TIMEOUT_MS: bad }), { message: new RegExp(`^HYPERHIVE_ORPHAN_TIMEOUT_MS must be a positive whole number of milliseconds, got "${bad.replace('.', '\\.')}"$`) }, bad);
    t.throws(() => orphanTimeoutFromEnv({ HYPERHIVE_ORPHAN_TIMEOUT_MS: bad }), { name: 'HyperhiveError', message: /HYPERHIVE_ORPHAN_TIMEOUT_MS/ }, bad);
  }
});

test('probeHealth: false for nothing listening, true for a 200', async (t) => {
  t.false(await probeHealth('http://127.0.0.1:9', 2000));
  const http = await import('node:http');
  const server = http.createServer((req, res) => { res.statusCode = req.url === '/api/health' ? 200 : 404; res.end('{}'); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const { port } = server.address() as { port: number };
  t.true(await probeHealth(`http://127.0.0.1:${port}/`, 2000));
});

test('the harness reads the timeout from its environment and refuses a bad one by name', async (t) => {
  const { harnessEnv } = await import('../../controller/harness/main.ts');
  const base = { HYPERHIVE_AGENT: 'a', HYPERHIVE_URL: 'u', HYPERHIVE_TOKEN_FILE: 't', HYPERHIVE_CONFIG_DIR: 'c', HYPERHIVE_STATE_DIR: 's' };
  t.is(harnessEnv(base).orphanTimeoutMs, 600_000);
  t.is(harnessEnv({ ...base, HYPERHIVE_ORPHAN_TIMEOUT_MS: '2500' }).orphanTimeoutMs, 2500);
  t.throws(() => harnessEnv({ ...base, HYPERHIVE_ORPHAN_TIMEOUT_MS: 'soon' }), { message: /HYPERHIVE_ORPHAN_TIMEOUT_MS must be a positive whole number/ });
});
