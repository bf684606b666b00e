// Containers against their same-run baseline, the process runtime:
//   crash → the system message in the manager's inbox (goal < 1 s): process, nspawn (--systemd off),
//     and nspawn as transient units over D-Bus (python-dbusmock's systemd as the bus: a unit "fails");
//   approve → the agent running the new revision (its idle agent has logged the revision), process vs nspawn;
//   resident memory of one idle agent (the real harness waiting on recv): process vs nspawn (nspawn,
//     its stub init and the harness).
// Run alone: `node --import tsx test/bench/containers.ts [--runs N]`; `npm run bench -- containers`.
// Needs root and systemd-nspawn for the nspawn figures, dbus and python3-dbusmock for the D-Bus one:
// each figure it cannot take is named in a "skipped" line.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { NspawnRuntime } from '../../controller/runtime/nspawn.ts';
import { childrenOf, namespaceInitUnder, residentBytes } from '../../controller/runtime/procfs.ts';
import { pushByPath, repoOf } from '../helpers/git.ts';
import { PROJECT_ROOT } from '../helpers/paths.ts';
import { createAgents, startServer, type TestServer, type TestServerOptions } from '../helpers/server.ts';
import { startSystemdMock, systemdMockUnavailable } from '../helpers/systemd-mock.ts';
import { waitFor } from '../helpers/wait.ts';

export type Report = (name: string, value: number, unit: string, note?: string) => void;
const CRASH_GOAL_MS = 1000;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
const p95 = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil(0.95 * s.length) - 1)]!; };

type Kind = 'process' | 'nspawn' | 'nspawn-units';
const serverFor = (kind: Kind, o: TestServerOptions = {}): Promise<TestServer> => startServer({
  prefix: `hh-bench-${kind}-`, runtime: kind === 'process' ? 'process' : 'nspawn', systemd: kind === 'nspawn-units' ? 'on' : 'off',
  crashMessageEveryMs: 0, crashLoop: { crashes: 0, windowMs: 1 },
  nspawn: { minBackoffMs: 50, maxBackoffMs: 200, nixos: false }, ...o,
} as TestServerOptions);

const view = async (s: TestServer, name: string) => (await s.api('GET', `/api/agents/${name}`)).body;
const runningAt = (s: TestServer, name: string, rev?: string) => waitFor(`${name} running`, async () => { const a = await view(s, name); return a.runtime.state === 'running' && (!rev || a.runtime.revision === rev) && a; }, 60_000);

/** The process that is the agent itself: the child for process, the command inside (PID 2) for nspawn. */
function agentPidOf(kind: Kind, pid: number): number | null {
  if (kind === 'process') return pid;
  const init = namespaceInitUnder(pid);
  return init ? childrenOf(init)[0] ?? null : null;
}

/** Kill → the manager's message: ms per sample, the agent running again before the next. */
async function crashToMessage(kind: Kind, runs: number, fail?: (s: TestServer, mark: () => void) => Promise<void>): Promise<number[]> {
  const s = await serverFor(kind);
  try {
    await createAgents(s, ['manager', 'worker']);
    const out: number[] = [];
    for (let i = 0; i < runs + 1; i++) {
      const a = await runningAt(s, 'worker');
      const pid = kind === 'nspawn-units' ? null : await waitFor('the agent process', () => agentPidOf(kind, a.runtime.pid), 20_000);
      const got = new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => { off(); reject(new Error(`${kind}: no crash message within 30 s (sample ${i})`)); }, 30_000);
        const off = s.bus.onMessage((m) => { if (m.to === 'manager' && m.from === 'system' && m.body.includes('agent worker crashed')) { off(); clearTimeout(timer); resolve(performance.now()); } });
      });
      let t0 = performance.now();
      if (pid) process.kill(pid, 'SIGKILL'); else await fail!(s, () => { t0 = performance.now(); });
      const t1 = await got;
      if (i > 0) out.push(t1 - t0); // the first is a warm-up
      await waitFor('restarted', async () => (await view(s, 'worker')).runtime.restarts > i, 60_000);
    }
    return out;
  } finally { await s.close(); }
}

/** Approve → the agent has logged the new revision (it runs it): ms per sample. */
async function approveToRunning(kind: Kind, runs: number): Promise<number[]> {
  const s = await serverFor(kind);
  try {
    await createAgents(s, ['worker']);
    await runningAt(s, 'worker');
    const log = path.join(s.state, 'agents', 'worker', 'runtime.log');
    const out: number[] = [];
    for (let i = 0; i < runs + 1; i++) {
      const head = await pushByPath(repoOf(s.state, 'worker'), { 'prompt.md': `revision ${i} ${Date.now()}\n` }, { message: `bench ${i}` });
      const req = await waitFor('the request', async () => ((await s.api('GET', '/api/approvals?agent=worker&status=pending')).body as { id: number; head: string }[]).find((r) => r.head === head), 30_000);
      const t0 = performance.now();
      const r = await s.api('POST', `/api/approvals/${req.id}/approve`);
      if (r.status !== 200) throw new Error(`approve: ${r.status} ${JSON.stringify(r.body)}`);
      await waitFor('the agent logged the new revision', () => { try { return fs.readFileSync(log, 'utf8').includes(`"idle agent running","revision":"${head}"`); } catch { return false; } }, 60_000);
      if (i > 0) out.push(performance.now() - t0);
    }
    return out;
  } finally { await s.close(); }
}

/** Resident memory (sum over its processes) of one agent running the real harness, idle on recv. */
async function idleMemory(kind: Kind): Promise<{ bytes: number; processes: number }> {
  const s = await serverFor(kind, { agentCommand: undefined, agentEnv: () => ({ HYPERHIVE_AGENT_CLI: `${process.execPath} ${path.join(PROJECT_ROOT, 'bin', 'hyperhive.mjs')} scripted-agent` }) });
  try {
    await createAgents(s, ['worker']);
    const a = await runningAt(s, 'worker');
    const tree = (pid: number): number[] => [pid, ...childrenOf(pid).flatMap(tree)];
    // Let it settle: the figure is what an idle agent holds, not its start-up peak.
    let last = 0; let bytes = 0; let pids: number[] = [];
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 500));
      pids = tree(a.runtime.pid);
      bytes = pids.reduce((n, p) => n + (residentBytes(p) ?? 0), 0);
      if (i > 4 && Math.abs(bytes - last) < 1024 * 1024) break;
      last = bytes;
    }
    return { bytes, processes: pids.length };
  } finally { await s.close(); }
}

export async function benchContainers(report: Report, o: { runs?: number; log?: (l: string) => void } = {}): Promise<void> {
  const runs = o.runs ?? Number(process.env.HH_BENCH_RUNS ?? 7);
  const log = o.log ?? ((l: string) => console.log(`  ${l}`));
  const nspawnWhy = NspawnRuntime.unavailable();
  const dbusWhy = systemdMockUnavailable() ?? nspawnWhy;

  const crashP = await crashToMessage('process', runs);
  report('crash → manager inbox, process (baseline)', median(crashP), 'ms', `p95 ${p95(crashP).toFixed(0)} ms, ${crashP.length} runs`);
  if (nspawnWhy) log(`skipped: nspawn figures: ${nspawnWhy}`);
  else {
    const crashN = await crashToMessage('nspawn', runs);
    report('crash → manager inbox, nspawn', median(crashN), 'ms', `p95 ${p95(crashN).toFixed(0)} ms; ${(median(crashN) / median(crashP)).toFixed(2)}× process; goal < ${CRASH_GOAL_MS} ms: ${p95(crashN) < CRASH_GOAL_MS ? 'met' : 'MISSED'}`);
  }
  if (dbusWhy) log(`skipped: D-Bus figure: ${dbusWhy}`);
  else {
    const mock = await startSystemdMock();
    const prev = process.env.DBUS_SYSTEM_BUS_ADDRESS;
    process.env.DBUS_SYSTEM_BUS_ADDRESS = mock.address;
    try {
      const unit = 'hyperhive-agent-worker.service';
      // The runtime says running as it asks for the unit; the unit must be active before it can fail.
      const crashU = await crashToMessage('nspawn-units', runs, async (_s, mark) => { await waitFor('the unit active', async () => (await mock.activeState(unit)) === 'active', 20_000); mark(); await mock.failUnit(unit, 'exit-code', 1); });
      report('crash → manager inbox, nspawn units over D-Bus', median(crashU), 'ms', `p95 ${p95(crashU).toFixed(0)} ms; ${(median(crashU) / median(crashP)).toFixed(2)}× process; goal < ${CRASH_GOAL_MS} ms: ${p95(crashU) < CRASH_GOAL_MS ? 'met' : 'MISSED'}`);
    } finally {
      if (prev === undefined) delete process.env.DBUS_SYSTEM_BUS_ADDRESS; else process.env.DBUS_SYSTEM_BUS_ADDRESS = prev;
      await mock.close();
    }
  }

  const apprP = await approveToRunning('process', runs);
  report('approve → running new revision, process (baseline)', median(apprP), 'ms', `p95 ${p95(apprP).toFixed(0)} ms`);
  if (!nspawnWhy) {
    const apprN = await approveToRunning('nspawn', runs);
    report('approve → running new revision, nspawn', median(apprN), 'ms', `p95 ${p95(apprN).toFixed(0)} ms; ${(median(apprN) / median(apprP)).toFixed(2)}× process`);
  }

  const memP = await idleMemory('process');
  report('idle agent resident memory, process (baseline)', memP.bytes / 1048576, 'MB', `${memP.processes} process(es)`);
  if (!nspawnWhy) {
    const memN = await idleMemory('nspawn');
    report("idle agent resident memory, nspawn", memN.bytes / 1048576, "MB", `${memN.processes} processes (nspawn, its stub init, the harness and its helpers); ${(memN.bytes / memP.bytes).toFixed(2)}× process`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const i = process.argv.indexOf('--runs');
  await benchContainers((name, value, unit, note) => console.log(`${name}: ${value.toFixed(1)} ${unit}${note ? `  (${note})` : ''}`), { runs: i > 0 ? Number(process.argv[i + 1]) : undefined });
}
