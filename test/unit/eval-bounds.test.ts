import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HyperhiveError } from '../../controller/errors.ts';
import { configFileProblem, DEFAULT_EVAL_LIMITS, evalLimitsFromEnv, maxConfigFileBytesFromEnv } from '../../controller/harness/eval-limits.ts';
import { Semaphore } from '../../controller/harness/run-bounded.ts';
import { evaluateSurface, findNixInstantiate } from '../../controller/harness/surface.ts';

// Every evaluation of an agent's config is bounded: memory (RLIMIT_AS), wall-clock time (its
// process group killed), how many run at once, and the size of the files evaluated. With the real
// nix-instantiate where it is installed.

const nix = await findNixInstantiate();
const withNix = nix ? test : test.skip;
if (!nix) console.log('skipped: nix-instantiate not found: the bounded-evaluation tests with Nix do not run');

const BOMB = '{ ... }: { hyperhive = { tools = { allow = [ (toString (builtins.length (builtins.genList (x: x * 2) 500000000))) ]; }; }; }\n';
// std::regex backtracks exponentially on this: CPU for ever in ~25 MB, so only the clock stops it.
const SPIN = '{ ... }: { hyperhive = { tools = { allow = if builtins.match "(a|aa)*c" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" == null then [ ] else [ "x" ]; }; }; }\n';

function configDir(t: { teardown(fn: () => void): void }, files: Record<string, string | Buffer>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hh-eval-bounds-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

/** Live nix-instantiate processes evaluating one of `dirs` (their argv carries the config dir). */
function evaluating(dirs: string[]): number {
  let n = 0;
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let argv: string;
    try { argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'); } catch { continue; }
    const stat = (() => { try { return fs.readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { return ''; } })();
    if (/\) Z /.test(stat)) continue; // a zombie holds no memory and runs nothing
    if (argv.includes('nix-instantiate') && dirs.some((d) => argv.includes(d))) n++;
  }
  return n;
}

test('limits come from the environment with defaults; a bad value is refused naming its variable', (t) => {
  t.deepEqual(evalLimitsFromEnv({}), DEFAULT_EVAL_LIMITS);
  t.deepEqual(DEFAULT_EVAL_LIMITS, { maxMb: 512, timeoutMs: 30_000, concurrency: 2 });
  t.deepEqual(evalLimitsFromEnv({ HYPERHIVE_EVAL_MAX_MB: '256', HYPERHIVE_EVAL_TIMEOUT_MS: '5000', HYPERHIVE_EVAL_CONCURRENCY: '1' }), { maxMb: 256, timeoutMs: 5000, concurrency: 1 });
  for (const bad of ['0', '-1', '1.5', 'lots', '1e3']) {
    const e = t.throws(() => evalLimitsFromEnv({ HYPERHIVE_EVAL_MAX_MB: bad }), { instanceOf: HyperhiveError });
    t.regex(e!.message, new RegExp(`^HYPERHIVE_EVAL_MAX_MB must be a positive whole number, got "${bad.replace('.', '\\.')}"`));
  }
  t.throws(() => evalLimitsFromEnv({ HYPERHIVE_EVAL_CONCURRENCY: '0' }), { message: /HYPERHIVE_EVAL_CONCURRENCY/ });
  t.is(maxConfigFileBytesFromEnv({}), 1024 * 1024);
  t.is(maxConfigFileBytesFromEnv({ HYPERHIVE_MAX_CONFIG_FILE_BYTES: '2048' }), 2048);
  t.throws(() => maxConfigFileBytesFromEnv({ HYPERHIVE_MAX_CONFIG_FILE_BYTES: 'x' }), { message: /HYPERHIVE_MAX_CONFIG_FILE_BYTES/ });
  t.is(configFileProblem('agent.nix', 1024, 1024), null);
  t.is(configFileProblem('hyperhive.json', 1025, 1024), 'hyperhive.json is 1025 bytes, over the 1024-byte limit for config files (agent.nix, hyperhive.json; HYPERHIVE_MAX_CONFIG_FILE_BYTES)');
});

test('the semaphore runs at most its limit at once and the rest in order', async (t) => {
  const gate = new Semaphore(2);
  const started: number[] = [];
  const release: (() => void)[] = [];
  const tasks = [0, 1, 2, 3, 4].map((i) => gate.run(() => { started.push(i); return new Promise<number>((r) => release.push(() => r(i))); }));
  await Promise.resolve();
  t.deepEqual(started, [0, 1]);
  t.is(gate.queued, 3);
  while (release.length) { release.shift()!(); await new Promise((r) => setImmediate(r)); t.true(gate.running <= 2); }
  t.deepEqual(await Promise.all(tasks), [0, 1, 2, 3, 4]);
  t.deepEqual(started, [0, 1, 2, 3, 4], 'first come, first served');
  t.is(gate.peak, 2);
  t.is(gate.running, 0);
  // A failing task gives its slot back too.
  await t.throwsAsync(gate.run(async () => { throw new Error('boom'); }), { message: 'boom' });
  t.is(gate.running, 0);
});

withNix('the genList bomb stops at the memory bound with its verdict, in seconds', async (t) => {
  const dir = configDir(t, { 'agent.nix': BOMB });
  const t0 = Date.now();
  const e = await t.throwsAsync(evaluateSurface(dir, { gate: new Semaphore(1) }), { instanceOf: HyperhiveError });
  t.is(e?.code, 'unprocessable');
  t.is(e?.message, 'agent.nix: evaluation exceeded 512 MB');
  t.true(Date.now() - t0 < 20_000, `took ${Date.now() - t0} ms`);
  // A lower bound is honoured as given.
  await t.throwsAsync(evaluateSurface(dir, { gate: new Semaphore(1), limits: { maxMb: 200 } }), { message: 'agent.nix: evaluation exceeded 200 MB' });
});

withNix('an evaluation that runs past the time bound is killed with its process group and says so; infinite recursion is nix\'s own error', async (t) => {
  const dir = configDir(t, { 'agent.nix': SPIN });
  const t0 = Date.now();
  await t.throwsAsync(evaluateSurface(dir, { gate: new Semaphore(1), limits: { timeoutMs: 1500 } }), { message: 'agent.nix: evaluation took over 1500 ms' });
  const took = Date.now() - t0;
  t.true(took >= 1500 && took < 10_000, `took ${took} ms`);
  t.is(evaluating([dir]), 0, 'no nix-instantiate left running');
  await t.throwsAsync(evaluateSurface(dir, { gate: new Semaphore(1), limits: { timeoutMs: 2000 } }), { message: 'agent.nix: evaluation took over 2 s' });

  const loop = configDir(t, { 'agent.nix': '{ ... }: { hyperhive = let f = x: f (x + 1); in f 0; }\n' });
  const e = await t.throwsAsync(evaluateSurface(loop, { gate: new Semaphore(1) }), { instanceOf: HyperhiveError });
  t.regex(e!.message, /infinite recursion|stack overflow/);
});

withNix('concurrent evaluations never run more than the gate allows: the rest wait, and all get their verdict', async (t) => {
  t.timeout(60_000);
  const dirs = [0, 1, 2, 3, 4].map(() => configDir(t, { 'agent.nix': SPIN }));
  const gate = new Semaphore(2);
  let most = 0;
  let samples = 0;
  const sampler = setInterval(() => { samples++; most = Math.max(most, evaluating(dirs)); t.true(gate.running <= 2); }, 50);
  try {
    const verdicts = await Promise.allSettled(dirs.map((d) => evaluateSurface(d, { gate, limits: { timeoutMs: 800 } })));
    t.deepEqual(verdicts.map((v) => v.status === 'rejected' && (v.reason as Error).message), Array(5).fill('agent.nix: evaluation took over 800 ms'));
  } finally {
    clearInterval(sampler);
  }
  t.is(gate.peak, 2);
  t.true(samples > 10, `sampled ${samples} times`);
  t.true(most >= 1 && most <= 2, `at most ${most} nix processes at once`);
});

test('a 20 MB hyperhive.json gets a clear verdict naming its size, with Nix and without; above a raised limit, the output bound speaks, never "-1"', async (t) => {
  t.timeout(60_000);
  const big = JSON.stringify({ tools: { allow: ['Read'] }, env: { BIG: 'x'.repeat(20 * 1024 * 1024) } });
  const dir = configDir(t, { 'hyperhive.json': big });
  const size = Buffer.byteLength(big);
  const want = `hyperhive.json is ${size} bytes, over the 1048576-byte limit for config files (agent.nix, hyperhive.json; HYPERHIVE_MAX_CONFIG_FILE_BYTES)`;
  await t.throwsAsync(evaluateSurface(dir, { nixInstantiate: null }), { instanceOf: HyperhiveError, message: want });
  if (!nix) { t.log('nix-instantiate not found: the Nix cases are not checked'); return; }
  fs.writeFileSync(path.join(dir, 'agent.nix'), '{ ... }: { hyperhive = builtins.fromJSON (builtins.readFile ./hyperhive.json); }\n');
  await t.throwsAsync(evaluateSurface(dir, { gate: new Semaphore(1) }), { message: want });
  const e = await t.throwsAsync(evaluateSurface(dir, { gate: new Semaphore(1), maxConfigFileBytes: 64 * 1024 * 1024 }), { instanceOf: HyperhiveError });
  t.regex(e!.message, /^agent\.nix: evaluation (printed more than 16 MB|exceeded 512 MB)$/);
});
