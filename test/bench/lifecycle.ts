// The lifecycle's costs against a real in-process server (process runtime, the idle agent), each beside
// a baseline taken in the same run: destroy (→ 200, → the process gone) vs suspend; approve revive →
// running vs create → running; purge; GET /api/agents?all=1 with half the fleet kept vs none kept (the
// same number of agents listed); the policy check added to every agent-token authentication.
// Run alone: `node --import tsx test/bench/lifecycle.ts`; `npm run bench -- lifecycle`.
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { agentToken, createAgents, startServer, type TestServer } from '../helpers/server.ts';

type Report = (name: string, value: number, unit: string, note?: string) => void;

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2; };
const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true; } catch { return false; } };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(fn: () => Promise<T | null | false>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out');
    await sleep(5);
  }
}

async function ok(s: TestServer, method: string, route: string, body?: unknown): Promise<any> {
  const r = await s.api(method, route, body);
  if (r.status >= 300) throw new Error(`${method} ${route}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

const runningPid = (s: TestServer, name: string) => until(async () => { const a = (await s.api('GET', `/api/agents/${name}`)).body; return a.runtime?.state === 'running' && a.runtime.pid ? a.runtime.pid as number : null; });

async function timed(fn: () => Promise<unknown>): Promise<number> { const t = performance.now(); await fn(); return performance.now() - t; }

export async function benchLifecycle(report: Report, o: { agents?: number } = {}): Promise<void> {
  const n = o.agents ?? Number(process.env.HH_BENCH_LIFECYCLE_AGENTS ?? 20);
  const s = await startServer({ prefix: 'hh-bench-life-', resyncMs: 600_000 });
  const load = () => `load ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} CPUs`;
  try {
    const names = Array.from({ length: n }, (_, i) => `a${String(i).padStart(3, '0')}`);
    const create: number[] = [];
    for (const name of names) {
      create.push(await timed(async () => { await createAgents(s, [name]); await runningPid(s, name); }));
    }
    // ---- listing: none kept, then half kept (the same agents listed) --------------------------
    const list = async () => { const xs: number[] = []; for (let i = 0; i < 15; i++) xs.push(await timed(() => ok(s, 'GET', '/api/agents?all=1'))); return median(xs.slice(3)); };
    const listNone = await list();

    // ---- destroy vs suspend (both through the agent's slot) -----------------------------------
    const suspend: number[] = []; const destroy: number[] = []; const gone: number[] = [];
    const half = names.slice(0, Math.floor(n / 2));
    for (const name of half) {
      suspend.push(await timed(() => ok(s, 'POST', `/api/agents/${name}/suspend`, {})));
      await ok(s, 'POST', `/api/agents/${name}/resume`, {});
      const pid = await runningPid(s, name);
      const t0 = performance.now();
      await ok(s, 'POST', `/api/agents/${name}/destroy`, {});
      destroy.push(performance.now() - t0);
      await until(async () => !alive(pid));
      gone.push(performance.now() - t0);
    }
    const listHalf = await list();

    // ---- revive (approve → running) vs create (→ running) -----------------------------------
    const revive: number[] = [];
    for (const name of half.slice(0, 5)) {
      const rq = await ok(s, 'POST', `/api/agents/${name}/revive`, {});
      revive.push(await timed(async () => { await ok(s, 'POST', `/api/approvals/${rq.id}/approve`, {}); await runningPid(s, name); }));
    }
    // ---- purge ----------------------------------------------------------------------------
    const purge: number[] = [];
    for (const name of half.slice(5)) purge.push(await timed(() => ok(s, 'DELETE', `/api/agents/${name}?confirm=${name}`)));

    // ---- authentication: the registry alone vs the controller's (with the lifecycle policy) ----
    const token = agentToken(s.state, names[n - 1]!);
    const reps = 50_000;
    const per = (fn: () => unknown): number => { for (let i = 0; i < 2000; i++) fn(); const t = performance.now(); for (let i = 0; i < reps; i++) fn(); return ((performance.now() - t) * 1000) / reps; };
    const registry = (s.controller as unknown as { d: { tokens: { authenticate(t: string): unknown } } }).d.tokens;
    const authBase = per(() => registry.authenticate(token));
    const authPolicy = per(() => s.controller.authenticate(token));

    report('create → running (baseline)', median(create), 'ms', `median of ${create.length}, idle agents, process runtime; ${load()}`);
    report('suspend (baseline: an operation in the slot)', median(suspend), 'ms', `median of ${suspend.length}`);
    report('destroy → 200 (token refused from here)', median(destroy), 'ms', `median of ${destroy.length}; ${(median(destroy) / median(suspend)).toFixed(2)}× suspend`);
    report('destroy → agent process gone', median(gone), 'ms', `median of ${gone.length}`);
    report('approve revive → running', median(revive), 'ms', `median of ${revive.length}; ${(median(revive) / median(create)).toFixed(2)}× create → running`);
    if (purge.length) report('purge (repo, state, transcripts, stats)', median(purge), 'ms', `median of ${purge.length}`);
    report(`GET /api/agents?all=1, ${n} agents, none kept`, listNone, 'ms', 'median of 12 (baseline)');
    report(`GET /api/agents?all=1, ${n} agents, ${half.length} kept`, listHalf, 'ms', `median of 12; ${(listHalf / listNone).toFixed(2)}× none kept`);
    report('authenticate, token registry alone', authBase, 'µs', `per call, ${reps} calls (baseline)`);
    report('authenticate, with the lifecycle policy', authPolicy, 'µs', `per call; +${(authPolicy - authBase).toFixed(2)} µs`);
  } finally {
    await s.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchLifecycle((name, value, unit, note) => console.log(`${name}: ${value.toFixed(2)} ${unit}${note ? `  (${note})` : ''}`));
}
