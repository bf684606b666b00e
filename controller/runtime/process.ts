import { spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { checkedOutRevision, installStaged, stageRevision } from './checkout.ts';
import { SupervisedRuntime, type Exit, type Launched, type SupervisorOptions } from './supervisor.ts';
import { hostShellPty } from './pty.ts';
import { contractEnv, type AgentSpec, type ExecOptions, type Prepared, type PtyHandle } from './types.ts';
import { ensureWorkingClone } from './working-clone.ts';
import { cmdlineOf, environOf, exited, killGroup, processStartedAt } from './procfs.ts';

export interface ProcessRuntimeOptions extends SupervisorOptions {
  /** How often an adopted process (not a child) is checked for having exited. */
  adoptPollMs?: number;
}

/** A staged checkout, or a process of an earlier controller to take over (then nothing was staged). */
interface ProcessPrepared extends Prepared { staged: string | null; adoptPid: number | null }

const NOTE = 'process runtime: the agent runs as a local child process; it isolates nothing';

/**
 * The embedded default backend: the agent's command as a local child process in its own process
 * group, with its checkout of `applied` and its state dir; the host paths are the agent's paths.
 * A controller restarted while its agents ran takes over the one running exactly what is to be
 * applied, started the same way, so its turn goes on; any other process of that agent is stopped.
 */
export class ProcessRuntime extends SupervisedRuntime<ProcessPrepared> {
  readonly kind = 'process' as const;
  readonly isolated = false;
  protected readonly note = NOTE;
  private readonly adoptPollMs: number;
  /** Agent processes in /proc when this runtime first looked, by agent and state dir: what a killed controller left. */
  private orphans: Map<string, number[]> | null = null;

  constructor(opts: ProcessRuntimeOptions = {}) {
    super(opts);
    this.adoptPollMs = opts.adoptPollMs ?? 250;
  }

  protected async stage(spec: AgentSpec, revision: string, first: boolean): Promise<ProcessPrepared> {
    if (first) {
      // Scanned once, before this runtime starts anything, so none of its own processes are in it.
      this.orphans ??= scanAgentProcesses();
      const key = orphanKey(spec.name, spec.mounts.state.source);
      const found = this.orphans.get(key) ?? [];
      this.orphans.delete(key);
      const keep = await adoptable(spec, revision);
      await killStale(spec, found, keep);
      if (keep !== null) return { name: spec.name, revision, spec, staged: null, adoptPid: keep };
    }
    const staged = await stageRevision(spec.repo, revision, spec.mounts.config.source);
    return { name: spec.name, revision, spec, staged, adoptPid: null };
  }

  protected async install(p: ProcessPrepared): Promise<void> {
    if (p.staged) await installStaged(p.staged, p.spec.mounts.config.source);
  }

  protected async release(p: ProcessPrepared): Promise<void> {
    if (p.staged) await fsp.rm(p.staged, { recursive: true, force: true });
  }

  protected override takeOver(p: ProcessPrepared): { launched: Launched; startedAt: number } | null {
    const pid = p.adoptPid;
    if (pid === null || exited(pid)) return null;
    const poll = this.adoptPollMs;
    const done = new Promise<Exit>((resolve) => {
      const t = setInterval(() => { if (exited(pid)) { clearInterval(t); resolve({ code: null, signal: null }); } }, poll);
      // Not unref'd: like a child process, a watched agent keeps the controller's loop alive (a stop
      // awaiting its exit would otherwise end the process with nothing left to run).
    });
    return { launched: { pid, exited: done, kill: (sig) => killGroup(pid, sig) }, startedAt: processStartedAt(pid) ?? this.o.now() };
  }

  protected launch(spec: AgentSpec): Launched {
    const stateDir = spec.mounts.state.source;
    const logFd = fs.openSync(path.join(path.dirname(stateDir), 'runtime.log'), 'a');
    const [cmd, ...args] = spec.command;
    let child;
    try {
      child = spawn(cmd!, args, { cwd: stateDir, env: processEnv(spec), stdio: ['ignore', logFd, logFd], detached: true });
    } finally {
      fs.closeSync(logFd);
    }
    const exitedP = new Promise<Exit>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      // A command that cannot start (ENOENT, EACCES) gets 'error' and no 'exit'.
      child.once('error', (err) => { if (child.pid === undefined) resolve({ code: null, signal: null, error: `${cmd}: ${err.message}` }); });
    });
    return { pid: child.pid ?? null, exited: exitedP, kill: (sig) => { if (child.pid) killGroup(child.pid, sig); } };
  }

  /** A shell on this host in the agent's state dir with its environment: as isolated as the agent, i.e. not at all. */
  protected override openPty(spec: AgentSpec, _revision: string, o: ExecOptions): PtyHandle { return hostShellPty(spec, o); }

  protected override recordRunning(spec: AgentSpec, pid: number | null, revision: string): void { writePid(spec, pid, revision); }
  protected override recordEnded(spec: AgentSpec, revision: string): void { writePid(spec, null, revision); }

  protected override afterStart(spec: AgentSpec, revision: string): void {
    if (!spec.workingClone) return;
    // Beside the start, not before it: a clone must not slow every apply; the agent pulls itself.
    void ensureWorkingClone(spec).catch((err) => this.emit({ type: 'warning', agent: spec.name, revision, message: `working clone not prepared: ${(err as Error).message}` }));
  }
}

/** What the agent's process sees: a minimal environment plus the spec's and the Contract's. */
function processEnv(spec: AgentSpec): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: spec.mounts.state.target,
    LANG: process.env.LANG ?? 'C.UTF-8',
    ...spec.env,
    ...contractEnv(spec),
  };
}

const pidFile = (spec: AgentSpec): string => path.join(path.dirname(spec.mounts.state.source), 'runtime.pid');

function writePid(spec: AgentSpec, pid: number | null, revision: string): void {
  try {
    if (pid === null) fs.rmSync(pidFile(spec), { force: true });
    else fs.writeFileSync(pidFile(spec), `${JSON.stringify({ pid, revision })}\n`);
  } catch { /* the agent dir may be gone (purge) */ }
}

const orphanKey = (name: string, stateDir: string): string => `${name}\0${path.resolve(stateDir)}`;

/** Every process whose environment names an agent (HYPERHIVE_AGENT and its HYPERHIVE_STATE_DIR), by orphanKey. */
function scanAgentProcesses(): Map<string, number[]> {
  const found = new Map<string, number[]>();
  let pids: string[] = [];
  try { pids = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)); } catch { return found; }
  for (const p of pids) {
    const pid = Number(p);
    if (pid === process.pid) continue;
    const env = environOf(pid);
    const name = env?.get('HYPERHIVE_AGENT'); const dir = env?.get('HYPERHIVE_STATE_DIR');
    if (!name || !dir) continue;
    const k = orphanKey(name, dir);
    found.set(k, [...(found.get(k) ?? []), pid]);
  }
  return found;
}

/**
 * A controller killed with SIGKILL leaves its agents running; the next one kills them before starting
 * its own, checking /proc that each pid still belongs to that agent (pids are reused). The pid file
 * alone misses a child forked just before the kill and not yet recorded, hence the scan's `orphans`.
 */
async function killStale(spec: AgentSpec, orphans: number[], keep: number | null = null): Promise<void> {
  const pids = new Set(orphans);
  try { const rec = JSON.parse(fs.readFileSync(pidFile(spec), 'utf8')) as { pid?: number }; if (rec?.pid) pids.add(rec.pid); } catch { /* none or torn */ }
  const stateDir = path.resolve(spec.mounts.state.source);
  if (keep !== null) pids.delete(keep);
  const mine = [...pids].filter((pid) => {
    const env = environOf(pid);
    return env?.get('HYPERHIVE_AGENT') === spec.name && (!env.has('HYPERHIVE_STATE_DIR') || path.resolve(env.get('HYPERHIVE_STATE_DIR')!) === stateDir);
  });
  for (const pid of mine) killGroup(pid, 'SIGTERM');
  for (let i = 0; i < 50 && mine.some((pid) => !exited(pid)); i++) await new Promise((r) => setTimeout(r, 100));
  for (const pid of mine) if (!exited(pid)) killGroup(pid, 'SIGKILL');
  if (keep === null) fs.rmSync(pidFile(spec), { force: true });
}

/**
 * The pid of the agent's recorded process if it may be taken over: alive, recorded as running
 * `revision` (which the config dir still holds), and started exactly as this controller would start
 * it now (same argv, same Contract environment — a controller on another URL must restart it).
 */
async function adoptable(spec: AgentSpec, revision: string): Promise<number | null> {
  let rec: { pid?: number; revision?: string } | null = null;
  try { rec = JSON.parse(fs.readFileSync(pidFile(spec), 'utf8')); } catch { return null; }
  const pid = rec?.pid;
  if (!pid || rec?.revision !== revision || exited(pid)) return null;
  if (await checkedOutRevision(spec.mounts.config.source) !== revision) return null;
  const env = environOf(pid);
  const argv = cmdlineOf(pid);
  if (!env || !argv || argv.length !== spec.command.length || argv.some((a, i) => a !== spec.command[i])) return null;
  const want: Record<string, string> = { ...spec.env, ...contractEnv(spec) };
  for (const [k, v] of Object.entries(want)) if (env.get(k) !== v) return null;
  return pid;
}
