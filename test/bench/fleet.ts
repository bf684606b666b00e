// The fleet at 1,000 agents against the real CLI server (`hyperhive serve`, runtime process, agents
// running `sleep`): the dashboard's first page and GET /api/agents?limit=50 with 1,000 agents vs 10
// (same run, both servers up and the requests alternating between them, medians, ratio; goal ≤ 2×),
// the unpaged GET /api/agents for reference, a cold start with 1,000 agents (to /api/health, and
// until all run), the controller's resident memory, and P1 with 1,000 agents against P1 with 3. Agents are created through the API (no fast path:
// the state dir is exactly what the API makes); HH_FLEET_STATE=DIR keeps that state dir for a rerun.
// Run alone: `node --import tsx test/bench/fleet.ts [--agents N] [--runs N]`; `npm run bench -- fleet`.
// HH_FLEET_AGENTS and HH_BENCH_RUNS shorten it.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Bench, Pusher, p1Series, quantiles, type Report } from './core.ts';
import { agentProcesses, freePort, killAgentProcesses, spawnCli, waitHealthy } from '../helpers/cli-server.ts';
import { tmpDir } from '../helpers/paths.ts';

const AGENT_COMMAND = 'sleep 100000000';
const GOAL_RATIO = 2;
const WARMUP = 5;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmt = (x: number) => x.toFixed(1);

export interface BenchFleetOptions { agents?: number; runs?: number; log?: (line: string) => void }

async function timed(b: Bench, route: string, accept: string, runs: number, warmup = WARMUP): Promise<{ ms: number[]; bytes: number; body: string }> {
  const ms: number[] = []; let bytes = 0; let body = '';
  for (let i = 0; i < runs + warmup; i++) {
    const t0 = performance.now();
    const res = await fetch(`${b.s.url}${route}`, { headers: { authorization: `Bearer ${b.token}`, accept } });
    body = await res.text();
    const dt = performance.now() - t0;
    if (res.status !== 200) throw new Error(`GET ${route}: ${res.status} ${body.slice(0, 300)}`);
    bytes = Buffer.byteLength(body);
    if (i >= warmup) ms.push(dt);
  }
  return { ms, bytes, body };
}

/**
 * The same route on both servers, one request to each in turn: whatever the machine does meanwhile
 * (load comes and goes over a run this long) falls on both alike, so their ratio holds.
 */
async function timedPair(few: Bench, many: Bench, route: string, accept: string, runs: number, manyRoute = route): Promise<{ few: Awaited<ReturnType<typeof timed>>; many: Awaited<ReturnType<typeof timed>> }> {
  const a = { ms: [] as number[], bytes: 0, body: '' }; const b = { ms: [] as number[], bytes: 0, body: '' };
  for (let i = 0; i < runs + WARMUP; i++) {
    for (const [bench, into, r0] of [[few, a, route], [many, b, manyRoute]] as const) {
      const r = await timed(bench, r0, accept, 1, 0);
      if (i >= WARMUP) into.ms.push(r.ms[0]!);
      into.bytes = r.bytes; into.body = r.body;
    }
  }
  return { few: a, many: b };
}

async function createMany(b: Bench, names: string[], concurrency: number, log: (l: string) => void): Promise<number> {
  const t0 = performance.now();
  let next = 0; let done = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < names.length) {
      const n = names[next++]!;
      await b.createAgent(n);
      if (++done % 100 === 0) log(`created ${done}/${names.length}`);
    }
  }));
  return performance.now() - t0;
}

/**
 * Until `n` agents run their applied revision: agent processes counted in /proc every 250 ms (polling
 * the unpaged listing would load the controller being measured), then the API confirms once.
 */
async function allRunning(b: Bench, n: number, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if (agentProcesses(b.state).length >= n) {
      const list = (await b.api<{ applied: string; runtime: { state: string; revision: string } }[]>('GET', '/api/agents')).body;
      if (list.filter((a) => a.runtime.state === 'running' && a.runtime.revision === a.applied).length >= n) return performance.now() - t0;
    }
    if (performance.now() - t0 > timeoutMs) throw new Error(`${agentProcesses(b.state).length}/${n} agent processes after ${timeoutMs} ms`);
    await sleep(250);
  }
}

/** Resident memory of a process, in MB (VmRSS); of its children too, agents aside, when `kids`. */
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}
function childHelpersMb(pid: number): { mb: number; count: number } {
  let mb = 0; let count = 0;
  for (const p of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== pid) continue;
      if (fs.readFileSync(`/proc/${p}/environ`, 'utf8').includes('HYPERHIVE_AGENT=')) continue;
      mb += rssMb(Number(p)); count += 1;
    } catch { /* gone */ }
  }
  return { mb, count };
}

/** The dashboard's first page and GET /api/agents?limit=50 on both fleets, interleaved; reported with their ratios. */
async function measurePages(few: Bench, many: Bench, n: number, runs: number, report: Report): Promise<{ dash: number; api: number; dashMs: number }> {
  const routes = [['dashboard first page', '/', 'text/html'], ['GET /api/agents?limit=50', '/api/agents?limit=50', 'application/json']] as const;
  const medians: number[] = []; let dashMs = 0;
  for (const [label, route, accept] of routes) {
    const r = await timedPair(few, many, route, accept, runs);
    const rows = (body: string) => (accept === 'text/html' ? `, ${(body.match(/<tr data-agent="/g) ?? []).length} rows` : `, ${(JSON.parse(body) as unknown[]).length} rows`);
    const qf = quantiles(r.few.ms); const qm = quantiles(r.many.ms);
    report(`${label}, 10 agents, median`, qf.median, 'ms', `p95 ${fmt(qf.p95)} ms, ${(r.few.bytes / 1024).toFixed(0)} KB${rows(r.few.body)}`);
    report(`${label}, ${n} agents, median`, qm.median, 'ms', `p95 ${fmt(qm.p95)} ms, ${(r.many.bytes / 1024).toFixed(0)} KB${rows(r.many.body)}`);
    report(`${label}, ${n} vs 10 agents`, qm.median / qf.median, '×', `goal ≤ ${GOAL_RATIO}×: ${qm.median / qf.median <= GOAL_RATIO ? 'met' : 'missed'} (requests alternate between the two servers)`);
    medians.push(qm.median / qf.median);
    if (route === '/') dashMs = qm.median;
  }
  // The same number of rows as with 10 agents: what the fleet's size alone costs a page.
  for (const [, route, accept] of routes) {
    const r = await timedPair(few, many, route, accept, runs, route === '/' ? '/?limit=10' : '/api/agents?limit=10');
    const qf = quantiles(r.few.ms); const qm = quantiles(r.many.ms);
    report(`${route === '/' ? 'dashboard page of 10 rows' : 'GET /api/agents?limit=10'}, ${n} agents, median`, qm.median, 'ms', `${(qm.median / qf.median).toFixed(2)}× the 10-agent one (${fmt(qf.median)} ms, same rows, interleaved): the fleet's size alone`);
  }
  return { dash: medians[0]!, api: medians[1]!, dashMs };
}

/** A CLI server on `state` (made when absent, reused when it holds agents already: what the API made before). */
async function startOn(state: string): Promise<{ b: Bench; healthMs: number }> {
  fs.mkdirSync(state, { recursive: true });
  const t0 = performance.now();
  const s = spawnCli(state, await freePort(), { HYPERHIVE_AGENT_COMMAND: AGENT_COMMAND });
  await waitHealthy(s, 180_000);
  const healthMs = performance.now() - t0;
  const b = new Bench(s, state);
  b.token = fs.readFileSync(path.join(state, 'operator.token'), 'utf8').trim();
  await b.follow();
  return { b, healthMs };
}

export async function benchFleet(report: Report, o: BenchFleetOptions = {}): Promise<void> {
  const many = o.agents ?? (Number(process.env.HH_FLEET_AGENTS) || 1000);
  const runs = o.runs ?? (Number(process.env.HH_BENCH_RUNS) || 30);
  const log = o.log ?? ((l: string) => console.log(`  · ${l}`));
  const names = Array.from({ length: many }, (_, i) => `agent-${String(i).padStart(4, '0')}`);

  // The small fleet: its own server, in this same run (3 agents for P1's baseline, then 10 for the
  // pages). It stays up while the large fleet's pages are measured: requests alternate between the two.
  const small = await Bench.start(AGENT_COMMAND);
  let b = small;
  let p = new Pusher(b);
  let p1few: ReturnType<typeof quantiles>;
  try {
    await createMany(b, names.slice(0, 3), 3, log);
    for (const n of names.slice(0, 3)) await b.waitRunning(n);
    p1few = quantiles((await p1Series(b, p, names.slice(0, 3), runs)).map((s) => s.visibleMs));
    report('P1 with 3 agents, median', p1few.median, 'ms', `p95 ${fmt(p1few.p95)} ms (the baseline for P1 with ${many})`);
    await createMany(b, names.slice(3, 10), 4, log);
    await allRunning(b, 10, 120_000);
  } catch (e) {
    p.cleanup();
    await small.close();
    throw e;
  }
  p.cleanup();

  // The large fleet. HH_FLEET_STATE keeps (and on the next run reuses) its state dir: the agents the
  // API created last time, so a rerun skips the ~5 minutes of creating them.
  const keep = process.env.HH_FLEET_STATE;
  const state = keep ?? tmpDir('hh-bench-fleet-');
  let smallOpen = true;
  try {
    ({ b } = await startOn(state));
  } catch (e) {
    await small.close();
    throw e;
  }
  p = new Pusher(b);
  try {
    const existing = new Set((await b.api<{ name: string }[]>('GET', '/api/agents')).body.map((a) => a.name));
    const missing = names.filter((n) => !existing.has(n));
    if (missing.length) {
      log(`creating ${missing.length} agents through the API, 8 at a time${existing.size ? ` (${existing.size} there already)` : ''}`);
      const createMs = await createMany(b, missing, 8, log);
      report(`create ${missing.length} agents through the API`, createMs / missing.length, 'ms/agent', `${(createMs / 1000).toFixed(1)} s in all, 8 at a time`);
    } else log(`reusing ${existing.size} agents in ${state}`);
    await allRunning(b, many, 900_000);
    // Measured in steady state: the start-up passes are over.
    await sleep(10_000);
    const lots = await measurePages(small, b, many, runs, report);
    await small.close();
    smallOpen = false;
    const full = await timed(b, '/api/agents', 'application/json', Math.max(5, Math.floor(runs / 3)));
    const qf = quantiles(full.ms);
    report(`GET /api/agents unpaged, ${many} agents, median`, qf.median, 'ms', `p95 ${fmt(qf.p95)} ms, ${(full.bytes / 1024 / 1024).toFixed(2)} MB (every agent's full view, as before)`);
    // The dashboard as it was (every agent on one page, every view and revision built): the same-run "before".
    const onePage = await timed(b, `/?limit=${Math.min(many, 1000)}`, 'text/html', Math.max(5, Math.floor(runs / 3)));
    const q1 = quantiles(onePage.ms);
    report(`dashboard with all ${many} on one page, median`, q1.median, 'ms', `p95 ${fmt(q1.p95)} ms, ${(onePage.bytes / 1024).toFixed(0)} KB: what the dashboard did before pages (${(q1.median / lots.dashMs).toFixed(1)}× the first page of 50)`);
    const helpers = childHelpersMb(b.s.pid);
    report(`controller resident memory, ${many} agents running`, rssMb(b.s.pid), 'MB', `VmRSS of the serve process; its ${helpers.count} helper processes (git workers) ${fmt(helpers.mb)} MB more; agents not counted`);

    log(`P1 with ${many} agents`);
    const sample = [names[0]!, names[Math.floor(many / 2)]!, names[many - 1]!];
    const p1many = quantiles((await p1Series(b, p, sample, runs)).map((s) => s.visibleMs));
    report(`P1 with ${many} agents, median`, p1many.median, 'ms', `${(p1many.median / p1few.median).toFixed(2)}× P1 with 3 in this run; p95 ${fmt(p1many.p95)} ms (${(p1many.p95 / p1few.p95).toFixed(2)}× p95 with 3)`);

    // Cold start: a clean stop (SIGTERM stops the agents too), then a new controller on the same state dir.
    log('cold start');
    await b.s.term(180_000);
    const started = await startOn(state);
    b = started.b;
    const runMs = await allRunning(b, many, 900_000);
    report(`cold start with ${many} agents: to /api/health 200`, started.healthMs, 'ms', 'spawn of `hyperhive serve` to the first 200');
    report(`cold start with ${many} agents: until all running`, started.healthMs + runMs, 'ms', `from the spawn; ${fmt(runMs / 1000)} s after /api/health`);
    await sleep(2000);
    report(`controller resident memory after a cold start, ${many} agents`, rssMb(b.s.pid), 'MB', 'VmRSS of the serve process');
    log(`load at the end: ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
  } finally {
    p.cleanup();
    if (smallOpen) await small.close();
    if (keep) { await b.s.term(180_000).catch(() => b.s.kill9()); killAgentProcesses(state); } else await b.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const arg = (n: string) => { const i = process.argv.indexOf(`--${n}`); return i < 0 ? undefined : Number(process.argv[i + 1]); };
  await benchFleet((name, value, unit, note) => console.log(`${name.padEnd(60)} ${value.toFixed(2).padStart(10)} ${unit.padEnd(9)} ${note ?? ''}`), { agents: arg('agents'), runs: arg('runs') });
}
