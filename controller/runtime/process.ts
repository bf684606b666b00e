import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { checkoutRevision, checkedOutRevision } from './checkout.ts';
import { setupClone, gitRemoteUrl } from '../../repos/agent-clone.ts';
import { identityFor } from '../../repos/identity.ts';
import { noneStatus, type AgentSpec, type Runtime, type RuntimeStatus } from './types.ts';

interface Entry {
  spec: AgentSpec;
  revision: string;
  child: ChildProcess | null;
  /** A process a previous controller started and this one took over (not its child: watched through /proc). */
  adoptedPid: number | null;
  status: RuntimeStatus;
  backoffMs: number;
  timer: NodeJS.Timeout | null;
  stopping: boolean;
  exited: Promise<void> | null;
}

export interface ProcessRuntimeOptions {
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** A run this long resets the backoff: it was not a crash loop. */
  healthyAfterMs?: number;
  stopTimeoutMs?: number;
  /** How often an adopted process (not a child) is checked for having exited. */
  adoptPollMs?: number;
}

const NOTE = 'process runtime: the agent runs as a local child process; it isolates nothing';

/**
 * The embedded default backend: the agent's command as a local child process in its own process group,
 * with its checkout of `applied` and its state dir, restarted with exponential backoff when it exits.
 */
export class ProcessRuntime extends EventEmitter implements Runtime {
  readonly kind = 'process';
  readonly isolated = false;
  private entries = new Map<string, Entry>();
  private o: Required<ProcessRuntimeOptions>;
  /** Agent processes in /proc when this runtime first looked, by agent and state dir: what a killed controller left. */
  private orphans: Map<string, number[]> | null = null;

  constructor(opts: ProcessRuntimeOptions = {}) {
    super();
    this.o = { minBackoffMs: 1000, maxBackoffMs: 60_000, healthyAfterMs: 30_000, stopTimeoutMs: 5000, adoptPollMs: 250, ...opts };
  }

  status(name: string): RuntimeStatus {
    const e = this.entries.get(name);
    return e ? { ...e.status } : noneStatus(false, NOTE);
  }

  async apply(spec: AgentSpec, revision: string): Promise<void> {
    const prev = this.entries.get(spec.name);
    if (!prev) {
      // Scanned once, before this runtime starts anything, so none of its own processes are in it.
      this.orphans ??= scanAgentProcesses();
      const key = orphanKey(spec.name, spec.stateDir);
      const found = this.orphans.get(key) ?? [];
      this.orphans.delete(key);
      // A controller restarted (or killed) while its agents ran: the one running exactly what is to be
      // applied, started the same way, is taken over instead of restarted, so its turn goes on.
      const keep = await adoptable(spec, revision);
      await killStale(spec, found, keep);
      if (keep !== null) { this.adopt(spec, revision, keep); this.ensureClone(spec, revision); return; }
    }
    if (prev) await this.halt(prev);
    await checkoutRevision(spec.repo, revision, spec.configDir);
    fs.mkdirSync(spec.stateDir, { recursive: true });
    const e: Entry = prev ?? { spec, revision, child: null, adoptedPid: null, status: noneStatus(false, NOTE), backoffMs: this.o.minBackoffMs, timer: null, stopping: false, exited: null };
    e.spec = spec; e.revision = revision; e.stopping = false; e.backoffMs = this.o.minBackoffMs;
    e.status = { ...e.status, state: 'starting', revision };
    this.entries.set(spec.name, e);
    this.launch(e);
    this.emit('event', { agent: spec.name, type: 'applied', revision, message: `applied ${revision.slice(0, 7)}` });
    this.ensureClone(spec, revision);
  }

  private ensureClone(spec: AgentSpec, revision: string): void {
    if (spec.prepareClone && !fs.existsSync(path.join(spec.stateDir, 'repo', '.git'))) {
      // The agent commits with plain git: a clone whose origin is the controller, token read at use
      // time. Made once, beside the start (a clone must not slow every apply); the agent pulls itself.
      void prepareCloneAtomically(spec)
        .catch((err) => this.emit('event', { agent: spec.name, type: 'applied', revision, message: `working clone not prepared: ${(err as Error).message}` }));
    }
  }

  private launch(e: Entry): void {
    const { spec } = e;
    const logFd = fs.openSync(path.join(path.dirname(spec.stateDir), 'runtime.log'), 'a');
    const [cmd, ...args] = spec.command;
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: spec.stateDir,
      LANG: process.env.LANG ?? 'C.UTF-8',
      ...spec.env,
      HYPERHIVE_AGENT: spec.name,
      HYPERHIVE_URL: spec.controllerUrl,
      HYPERHIVE_TOKEN_FILE: spec.tokenFile,
      HYPERHIVE_CONFIG_DIR: spec.configDir,
      HYPERHIVE_STATE_DIR: spec.stateDir,
    };
    let child: ChildProcess;
    try {
      child = spawn(cmd!, args, { cwd: spec.stateDir, env, stdio: ['ignore', logFd, logFd], detached: true });
    } finally {
      fs.closeSync(logFd);
    }
    e.child = child;
    const startedAt = Date.now();
    e.status = { ...e.status, state: 'running', revision: e.revision, pid: child.pid ?? null, startedAt };
    writePid(spec, child.pid ?? null, e.revision);
    e.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => { e.child = null; this.exitedNow(e, code, signal, startedAt); resolve(); });
      child.once('error', (err) => {
        this.emit('event', { agent: spec.name, type: 'exited', revision: e.revision, message: `cannot start ${cmd}: ${err.message}` });
      });
    });
    this.emit('event', { agent: spec.name, type: 'started', revision: e.revision, message: `started pid ${child.pid} on ${e.revision.slice(0, 7)}` });
  }

  /** The agent's process is gone: record it and, unless it was stopped, start it again after a backoff. */
  private exitedNow(e: Entry, code: number | null, signal: string | null, startedAt: number): void {
    const { spec } = e;
    e.status = { ...e.status, pid: null, lastExit: { code, signal, at: Date.now() } };
    writePid(spec, null, e.revision);
    if (e.stopping) { e.status.state = 'stopped'; return; }
    if (Date.now() - startedAt >= this.o.healthyAfterMs) e.backoffMs = this.o.minBackoffMs;
    const delay = e.backoffMs;
    e.backoffMs = Math.min(e.backoffMs * 2, this.o.maxBackoffMs);
    e.status.state = 'backoff';
    e.status.restarts += 1;
    this.emit('event', { agent: spec.name, type: 'exited', revision: e.revision, message: `agent process exited (code ${code}, signal ${signal}); restarting in ${delay} ms`, data: { code, signal, delay } });
    e.timer = setTimeout(() => { e.timer = null; if (!e.stopping) this.launch(e); }, delay);
  }

  /** Takes over a running agent process a previous controller started (its exit status is not ours to read). */
  private adopt(spec: AgentSpec, revision: string, pid: number): void {
    const startedAt = processStartedAt(pid) ?? Date.now();
    const e: Entry = {
      spec, revision, child: null, adoptedPid: pid, backoffMs: this.o.minBackoffMs, timer: null, stopping: false, exited: null,
      status: { ...noneStatus(false, NOTE), state: 'running', revision, pid, startedAt },
    };
    this.entries.set(spec.name, e);
    e.exited = new Promise((resolve) => {
      const poll = setInterval(() => {
        if (!exited(pid)) return;
        clearInterval(poll);
        e.adoptedPid = null;
        this.exitedNow(e, null, null, startedAt);
        resolve();
      }, this.o.adoptPollMs);
      // Not unref'd: like a child process, a watched agent keeps the controller's loop alive (a stop
      // awaiting its exit would otherwise end the process with nothing left to run).
    });
    this.emit('event', { agent: spec.name, type: 'adopted', revision, message: `took over pid ${pid} running ${revision.slice(0, 7)}, started by a previous controller`, data: { pid } });
  }

  private async halt(e: Entry): Promise<void> {
    e.stopping = true;
    if (e.timer) { clearTimeout(e.timer); e.timer = null; }
    const pid = e.child?.pid ?? e.adoptedPid;
    if (pid) {
      const done = e.exited;
      killGroup(pid, 'SIGTERM');
      const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), this.o.stopTimeoutMs).unref());
      if ((await Promise.race([done, timeout])) === 'timeout') { killGroup(pid, 'SIGKILL'); await done; }
    }
    e.status = { ...e.status, state: 'stopped', pid: null };
  }

  async stop(name: string): Promise<void> {
    const e = this.entries.get(name);
    if (!e) return;
    await this.halt(e);
    this.emit('event', { agent: name, type: 'stopped', revision: e.revision, message: 'stopped' });
  }

  async close(): Promise<void> {
    await Promise.all([...this.entries.values()].map((e) => this.halt(e)));
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try { process.kill(-pid, signal); } catch { try { process.kill(pid, signal); } catch { /* gone */ } }
}

const pidFile = (spec: AgentSpec): string => path.join(path.dirname(spec.stateDir), 'runtime.pid');

function writePid(spec: AgentSpec, pid: number | null, revision: string): void {
  try {
    if (pid === null) fs.rmSync(pidFile(spec), { force: true });
    else fs.writeFileSync(pidFile(spec), `${JSON.stringify({ pid, revision })}\n`);
  } catch { /* the agent dir may be gone (purge) */ }
}

const orphanKey = (name: string, stateDir: string): string => `${name}\0${path.resolve(stateDir)}`;

function environOf(pid: number): Map<string, string> | null {
  let raw: string;
  try { raw = fs.readFileSync(`/proc/${pid}/environ`, 'utf8'); } catch { return null; }
  const vars = new Map<string, string>();
  for (const kv of raw.split('\0')) { const i = kv.indexOf('='); if (i > 0) vars.set(kv.slice(0, i), kv.slice(i + 1)); }
  return vars;
}

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

/** Gone, or a zombie: it has exited and only waits for its new parent to reap it. */
function exited(pid: number): boolean {
  try { return /^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8')); } catch { return true; }
}

/**
 * A controller killed with SIGKILL leaves its agents running; the next one kills them before starting
 * its own, checking /proc that each pid still belongs to that agent (pids are reused). The pid file
 * alone misses a child forked just before the kill and not yet recorded, hence the scan's `orphans`.
 */
async function killStale(spec: AgentSpec, orphans: number[], keep: number | null = null): Promise<void> {
  const pids = new Set(orphans);
  try { const rec = JSON.parse(fs.readFileSync(pidFile(spec), 'utf8')) as { pid?: number }; if (rec?.pid) pids.add(rec.pid); } catch { /* none or torn */ }
  const stateDir = path.resolve(spec.stateDir);
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

const cmdlineOf = (pid: number): string[] | null => {
  try { return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1); } catch { return null; }
};

/** When the process started (ms since epoch), from /proc: boot time plus its start in clock ticks. */
function processStartedAt(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    const btime = Number(/^btime (\d+)$/m.exec(fs.readFileSync('/proc/stat', 'utf8'))?.[1]);
    // USER_HZ is 100 on every Linux this runs on.
    return Number.isFinite(ticks) && Number.isFinite(btime) ? btime * 1000 + ticks * 10 : null;
  } catch { return null; }
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
  if (await checkedOutRevision(spec.configDir) !== revision) return null;
  const env = environOf(pid);
  const argv = cmdlineOf(pid);
  if (!env || !argv || argv.length !== spec.command.length || argv.some((a, i) => a !== spec.command[i])) return null;
  const want: Record<string, string> = {
    ...spec.env,
    HYPERHIVE_AGENT: spec.name, HYPERHIVE_URL: spec.controllerUrl, HYPERHIVE_TOKEN_FILE: spec.tokenFile,
    HYPERHIVE_CONFIG_DIR: spec.configDir, HYPERHIVE_STATE_DIR: spec.stateDir,
  };
  for (const [k, v] of Object.entries(want)) if (env.get(k) !== v) return null;
  return pid;
}

/** Builds the clone beside its place and renames it in, so the agent never sees a half-configured one. */
async function prepareCloneAtomically(spec: AgentSpec): Promise<void> {
  const dir = path.join(spec.stateDir, 'repo');
  const tmp = path.join(spec.stateDir, `.repo-tmp-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  try {
    await setupClone({ dir: tmp, remote: gitRemoteUrl(spec.controllerUrl, spec.name), username: spec.name, tokenFile: path.resolve(spec.tokenFile), identity: identityFor(spec.name) });
    if (!fs.existsSync(dir)) fs.renameSync(tmp, dir);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
