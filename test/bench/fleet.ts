// The fleet at 1,000 agents against the real CLI server (`hyperhive serve`, runtime process, agents
// running `sleep`): the dashboard's first page and GET /api/agents?limit=50 with 1,000 agents vs 10
// (same run, medians, ratio; goal ≤ 2×), the unpaged GET /api/agents for reference, a cold start with
// 1,000 agents (to /api/health, and until all run), the controller's resident memory, and P1 with
// 1,000 agents against P1 with 3 in the same run. Agents are created through the API (no fast path:
// the state dir is exactly what the API makes).
// Run alone: `node --import tsx test/bench/fleet.ts [--agents N] [--runs N]`; `npm run bench -- fleet`.
// HH_FLEET_AGENTS and HH_BENCH_RUNS shorten it.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Bench, Pusher, p1Series, quantiles, type Report } from './core.ts';
import { freePort, spawnCli, waitHealthy } from '../helpers/cli-server.ts';

const AGENT_COMMAND = 'sleep 100000000';
const GOAL_RATIO = 2;
const WARMUP = 5;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmt = (x: number) => x.toFixed(1);

export interface BenchFleetOptions { agents?: number; runs?: number; log?: (line: string) => void }

async function timed(b: Bench, route: string, accept: string, runs: number): Promise<{ ms: number[]; bytes: number; body: string }> {
  const ms: number[] = []; let bytes = 0; let body = '';
  for (let i = 0; i < runs + WARMUP; i++) {
    const t0 = performance.now();
    const res = await fetch(`${b.s.url}${route}`, { headers: { authorization: `Bearer ${b.token}`, accept } });
    body = await res.text();
    const dt = performance.now() - t0;
    if (res.status !== 200) throw new Error(`GET ${route}: ${res.status} ${body.slice(0, 300)}`);
    bytes = Buffer.byteLength(body);
    if (i >= WARMUP) ms.push(dt);
  }
  return { ms, bytes, body };
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

/** Polls the unpaged listing until `n` agents run their applied revision. */
async function allRunning(b: Bench, n: number, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const list = (await b.api<{ applied: string; runtime: { state: string; revision: string } }[]>('GET', '/api/agents')).body;
    const running = list.filter((a) => a.runtime.state === 'running' && a.runtime.revision === a.applied).length;
    if (running >= n) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs) throw new Error(`${running}/${n} running after ${timeoutMs} ms`);
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

async function measurePages(b: Bench, runs: number, label: string, report: Report): Promise<{ dash: number; api: number }> {
  const dash = await timed(b, '/', 'text/html', runs);
  const rowsShown = (dash.body.match(/<tr data-agent="/g) ?? []).length;
  const api = await timed(b, '/api/agents?limit=50', 'application/json', runs);
  const qd = quantiles(dash.ms); const qa = quantiles(api.ms);
  report(`dashboard first page, ${label}, median`, qd.median, 'ms', `p95 ${fmt(qd.p95)} ms, ${(dash.bytes / 1024).toFixed(0)} KB, ${rowsShown} rows`);
  report(`GET /api/agents?limit=50, ${label}, median`, qa.median, 'ms', `p95 ${fmt(qa.p95)} ms, ${(api.bytes / 1024).toFixed(0)} KB`);
  return { dash: qd.median, api: qa.median };
}

export async function benchFleet(report: Report, o: BenchFleetOptions = {}): Promise<void> {
  const many = o.agents ?? (Number(process.env.HH_FLEET_AGENTS) || 1000);
  const runs = o.runs ?? (Number(process.env.HH_BENCH_RUNS) || 30);
  const log = o.log ?? ((l: string) => console.log(`  · ${l}`));
  const names = Array.from({ length: many }, (_, i) => `agent-${String(i).padStart(4, '0')}`);
  let b = await Bench.start(AGENT_COMMAND);
  const p = new Pusher(b);
  try {
    // P1 with 3 agents: the baseline for P1 with `many`, on this same server.
    await createMany(b, names.slice(0, 3), 3, log);
    for (const n of names.slice(0, 3)) await b.waitRunning(n);
    const p1few = quantiles((await p1Series(b, p, names.slice(0, 3), runs)).map((s) => s.visibleMs));
    report('P1 with 3 agents, median', p1few.median, 'ms', `p95 ${fmt(p1few.p95)} ms (the baseline for P1 with ${many})`);

    await createMany(b, names.slice(3, 10), 4, log);
    await allRunning(b, 10, 120_000);
    const few = await measurePages(b, runs, '10 agents', report);

    log(`creating ${many - 10} more agents through the API, 8 at a time`);
    const createMs = await createMany(b, names.slice(10), 8, log);
    report(`create ${many - 10} agents through the API`, createMs / (many - 10), 'ms/agent', `${(createMs / 1000).toFixed(1)} s in all, 8 at a time`);
    await allRunning(b, many, 600_000);
    const lots = await measurePages(b, runs, `${many} agents`, report);
    report(`dashboard first page, ${many} vs 10 agents`, lots.dash / few.dash, '×', `goal ≤ ${GOAL_RATIO}×: ${lots.dash / few.dash <= GOAL_RATIO ? 'met' : 'missed'}`);
    report(`GET /api/agents?limit=50, ${many} vs 10 agents`, lots.api / few.api, '×', `goal ≤ ${GOAL_RATIO}×: ${lots.api / few.api <= GOAL_RATIO ? 'met' : 'missed'}`);
    const full = await timed(b, '/api/agents', 'application/json', Math.max(5, Math.floor(runs / 3)));
    const qf = quantiles(full.ms);
    report(`GET /api/agents unpaged, ${many} agents, median`, qf.median, 'ms', `p95 ${fmt(qf.p95)} ms, ${(full.bytes / 1024 / 1024).toFixed(2)} MB (every agent's full view, as before)`);
    // The dashboard as it was (every agent on one page, every view and revision built): the same-run "before".
    const onePage = await timed(b, `/?limit=${Math.min(many, 1000)}`, 'text/html', Math.max(5, Math.floor(runs / 3)));
    const q1 = quantiles(onePage.ms);
    report(`dashboard with all ${many} on one page, median`, q1.median, 'ms', `p95 ${fmt(q1.p95)} ms, ${(onePage.bytes / 1024).toFixed(0)} KB: what the dashboard did before pages (${(q1.median / lots.dash).toFixed(1)}× the first page of 50)`);
    const helpers = childHelpersMb(b.s.pid);
    report(`controller resident memory, ${many} agents running`, rssMb(b.s.pid), 'MB', `VmRSS of the serve process; its ${helpers.count} helper processes (git workers) ${fmt(helpers.mb)} MB more; agents not counted`);

    log(`P1 with ${many} agents`);
    const sample = [names[0]!, names[Math.floor(many / 2)]!, names[many - 1]!];
    const p1many = quantiles((await p1Series(b, p, sample, runs)).map((s) => s.visibleMs));
    report(`P1 with ${many} agents, median`, p1many.median, 'ms', `${(p1many.median / p1few.median).toFixed(2)}× P1 with 3 in this run; p95 ${fmt(p1many.p95)} ms (${(p1many.p95 / p1few.p95).toFixed(2)}× p95 with 3)`);

    // Cold start: a clean stop (SIGTERM stops the agents too), then a new controller on the same state dir.
    log('cold start');
    await b.s.term(120_000);
    const port = await freePort();
    const t0 = performance.now();
    const s = spawnCli(b.state, port, { HYPERHIVE_AGENT_COMMAND: AGENT_COMMAND });
    await waitHealthy(s, 120_000);
    const healthMs = performance.now() - t0;
    const token = b.token;
    b = new Bench(s, b.state);
    b.token = token;
    await b.follow();
    const runMs = await allRunning(b, many, 600_000);
    report(`cold start with ${many} agents: to /api/health 200`, healthMs, 'ms', 'spawn of `hyperhive serve` to the first 200');
    report(`cold start with ${many} agents: until all running`, healthMs + runMs, 'ms', `from the spawn; ${fmt(runMs / 1000)} s after /api/health`);
    await sleep(2000);
    report(`controller resident memory after a cold start, ${many} agents`, rssMb(b.s.pid), 'MB', 'VmRSS of the serve process');
    const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    log(`load at the end: ${load}`);
  } finally {
    p.cleanup();
    await b.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const arg = (n: string) => { const i = process.argv.indexOf(`--${n}`); return i < 0 ? undefined : Number(process.argv[i + 1]); };
  await benchFleet((name, value, unit, note) => console.log(`${name.padEnd(60)} ${value.toFixed(2).padStart(10)} ${unit.padEnd(9)} ${note ?? ''}`), { agents: arg('agents'), runs: arg('runs') });
}
