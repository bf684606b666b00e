import fs from 'node:fs';
import { HyperhiveError } from '../errors.ts';
import { noneStatus, type AgentSpec, type ExecOptions, type Prepared, type PtyHandle, type Runtime, type RuntimeEvent, type RuntimeKind, type RuntimeStatus } from './types.ts';

/**
 * How an agent ended: an exit status, a signal, or why it never started. A backend that learns it
 * from systemd adds the unit and systemd's `Result` (anything but `success` is a crash).
 */
export interface Exit { code: number | null; signal: string | null; error?: string; unit?: string; result?: string }

/** A started agent as its backend sees it: a child process, a container, the fake's stand-in. */
export interface Launched {
  readonly pid: number | null;
  /** Resolves once the agent has ended, whatever ended it. */
  readonly exited: Promise<Exit>;
  /** Signals the agent (a process backend: its whole process group). */
  kill(signal: NodeJS.Signals): void;
}

export interface SupervisorOptions {
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** A run this long resets the backoff: it was not a crash loop. */
  healthyAfterMs?: number;
  /** SIGTERM, then SIGKILL after this long. */
  stopTimeoutMs?: number;
  now?: () => number;
}

interface Entry {
  spec: AgentSpec;
  revision: string;
  proc: Launched | null;
  status: RuntimeStatus;
  backoffMs: number;
  timer: NodeJS.Timeout | null;
  stopping: boolean;
  /** Settles when `proc` has ended and its exit was handled. */
  ended: Promise<void> | null;
}

/**
 * The part every backend shares: per-agent status, restarts with exponential backoff, stop with a
 * grace period, `building` while a revision is prepared, and the typed event stream in the order
 * things happen. A backend says how to stage, install, launch and release a revision.
 */
export abstract class SupervisedRuntime<P extends Prepared = Prepared> implements Runtime {
  abstract readonly kind: RuntimeKind;
  abstract readonly isolated: boolean;
  protected abstract readonly note: string;

  /** Makes `revision` ready to start without touching what runs (may be slow: a checkout, a Nix build). */
  protected abstract stage(spec: AgentSpec, revision: string, first: boolean): Promise<P>;
  /** Puts a staged revision in place; the old agent has stopped. */
  protected abstract install(p: P): Promise<void>;
  /** Drops a staged revision that will not be installed. */
  protected abstract release(p: P): Promise<void>;
  /** Starts the agent on its installed revision; throws when it cannot start at all. */
  protected abstract launch(spec: AgentSpec, revision: string): Launched;
  /** An agent left running by an earlier controller that `p` says to take over instead of restarting. */
  protected takeOver(_p: P): { launched: Launched; startedAt: number } | null { return null; }
  /** After a start (or takeover): backend extras such as the agent's working clone. */
  protected afterStart(_spec: AgentSpec, _revision: string): void { /* none */ }

  protected readonly o: Required<SupervisorOptions>;
  private entries = new Map<string, Entry>();
  private building = new Map<string, string>();
  private ptys = new Map<string, Set<PtyHandle>>();
  private listeners = new Set<(e: RuntimeEvent) => void>();

  constructor(opts: SupervisorOptions = {}) {
    this.o = { minBackoffMs: 1000, maxBackoffMs: 60_000, healthyAfterMs: 30_000, stopTimeoutMs: 5000, now: Date.now, ...opts };
  }

  onEvent(fn: (e: RuntimeEvent) => void): () => void {
    this.listeners.add(fn);
    return () => { this.listeners.delete(fn); };
  }

  protected emit(e: RuntimeEvent): void {
    for (const l of [...this.listeners]) {
      try { l(e); } catch { /* a listener's failure is its own */ }
    }
  }

  status(name: string): RuntimeStatus {
    const e = this.entries.get(name);
    return { ...(e ? e.status : noneStatus(this.isolated, this.note)), building: this.building.get(name) ?? null };
  }

  async prepare(spec: AgentSpec, revision: string): Promise<P> {
    // Set before the first await: whoever asked sees `building` at once.
    this.building.set(spec.name, revision);
    this.emit({ type: 'building', agent: spec.name, revision, message: `preparing ${revision.slice(0, 7)}` });
    try {
      return await this.stage(spec, revision, !this.entries.has(spec.name));
    } catch (err) {
      const error = (err as Error).message;
      const logTail = (err as { logTail?: string }).logTail ?? error;
      this.emit({ type: 'build-failed', agent: spec.name, revision, message: `preparing ${revision.slice(0, 7)} failed: ${error}`, error, logTail });
      throw err;
    } finally {
      if (this.building.get(spec.name) === revision) this.building.delete(spec.name);
    }
  }

  async discard(p: P): Promise<void> { await this.release(p); }

  async activate(p: P): Promise<void> {
    const { spec, revision } = p;
    const prev = this.entries.get(spec.name);
    const taken = prev ? null : this.takeOver(p);
    if (taken) {
      const e = this.entry(spec, revision, prev);
      this.run(e, taken.launched, taken.startedAt);
      this.emit({ type: 'adopted', agent: spec.name, revision, pid: taken.launched.pid ?? 0, message: `took over pid ${taken.launched.pid} running ${revision.slice(0, 7)}, started by a previous controller` });
      this.afterStart(spec, revision);
      return;
    }
    if (prev) await this.halt(prev);
    try {
      await this.install(p);
    } catch (err) {
      await this.release(p).catch(() => undefined);
      throw err;
    }
    fs.mkdirSync(spec.mounts.state.source, { recursive: true });
    const e = this.entry(spec, revision, prev);
    this.emit({ type: 'applied', agent: spec.name, revision, message: `applied ${revision.slice(0, 7)}` });
    this.start(e);
    this.afterStart(spec, revision);
  }

  private entry(spec: AgentSpec, revision: string, prev: Entry | undefined): Entry {
    const e: Entry = prev ?? { spec, revision, proc: null, status: noneStatus(this.isolated, this.note), backoffMs: this.o.minBackoffMs, timer: null, stopping: false, ended: null };
    e.spec = spec; e.revision = revision; e.stopping = false; e.backoffMs = this.o.minBackoffMs;
    e.status = { ...e.status, state: 'starting', revision };
    this.entries.set(spec.name, e);
    return e;
  }

  private start(e: Entry): void {
    let launched: Launched;
    try {
      launched = this.launch(e.spec, e.revision);
    } catch (err) {
      this.ended(e, { code: null, signal: null, error: (err as Error).message }, this.o.now());
      return;
    }
    this.run(e, launched, this.o.now());
    this.emit({ type: 'started', agent: e.spec.name, revision: e.revision, pid: launched.pid, message: `started pid ${launched.pid} on ${e.revision.slice(0, 7)}` });
  }

  private run(e: Entry, launched: Launched, startedAt: number): void {
    e.proc = launched;
    e.status = { ...e.status, state: 'running', revision: e.revision, pid: launched.pid, startedAt };
    this.recordRunning(e.spec, launched.pid, e.revision);
    e.ended = launched.exited.then((x) => { if (e.proc === launched) { e.proc = null; this.ended(e, x, startedAt); } });
  }

  /** Records a running agent where the next controller finds it (the process backend's pid file). */
  protected recordRunning(_spec: AgentSpec, _pid: number | null, _revision: string): void { /* none */ }
  protected recordEnded(_spec: AgentSpec, _revision: string): void { /* none */ }

  /** The agent ended: unless it was stopped, start it again after a backoff (or leave it crashed if it never started). */
  private ended(e: Entry, x: Exit, startedAt: number): void {
    const { spec } = e;
    const at = this.o.now();
    e.status = { ...e.status, pid: null, lastExit: { code: x.code, signal: x.signal, at } };
    this.recordEnded(spec, e.revision);
    if (e.stopping) { e.status.state = 'stopped'; return; }
    const crashed = !!x.error || !!x.signal || (x.code !== null && x.code !== 0) || (x.result !== undefined && x.result !== 'success');
    const unit = x.unit ? ` (unit ${x.unit}, result ${x.result ?? 'unknown'})` : '';
    const what = x.error ? `cannot start: ${x.error}` : `agent process exited (code ${x.code}, signal ${x.signal})${unit}`;
    const detail = { at, ...(x.unit ? { unit: x.unit } : {}), ...(x.result ? { result: x.result } : {}) };
    if (crashed) this.emit({ type: 'crashed', agent: spec.name, revision: e.revision, code: x.code, signal: x.signal, ...detail, message: what });
    else this.emit({ type: 'exited', agent: spec.name, revision: e.revision, code: x.code, signal: x.signal, message: what });
    if (x.error) {
      // It never ran: restarting it here would spin; the reconciler applies again with its backoff.
      e.status.state = 'crashed';
      return;
    }
    if (at - startedAt >= this.o.healthyAfterMs) e.backoffMs = this.o.minBackoffMs;
    const delay = e.backoffMs;
    e.backoffMs = Math.min(e.backoffMs * 2, this.o.maxBackoffMs);
    e.status.state = 'backoff';
    e.status.restarts += 1;
    this.emit({ type: 'backoff', agent: spec.name, revision: e.revision, delayMs: delay, restarts: e.status.restarts, message: `restarting ${e.revision.slice(0, 7)} in ${delay} ms (restart ${e.status.restarts})` });
    e.timer = setTimeout(() => { e.timer = null; if (!e.stopping) this.start(e); }, delay);
  }

  private async halt(e: Entry): Promise<void> {
    e.stopping = true;
    this.endPtys(e.spec.name);
    if (e.timer) { clearTimeout(e.timer); e.timer = null; }
    const proc = e.proc;
    if (proc) {
      const done = e.ended;
      proc.kill('SIGTERM');
      const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), this.o.stopTimeoutMs).unref());
      if ((await Promise.race([done, timeout])) === 'timeout') { proc.kill('SIGKILL'); await done; }
    }
    e.status = { ...e.status, state: 'stopped', pid: null };
  }

  async stop(name: string): Promise<void> {
    const e = this.entries.get(name);
    if (!e) return;
    await this.halt(e);
    this.emit({ type: 'stopped', agent: name, revision: e.revision, message: 'stopped' });
  }

  /** A PTY into the running agent (a backend that can: process, nspawn); the rest say `not_supported`. */
  protected openPty(spec: AgentSpec, _revision: string, _o: ExecOptions): PtyHandle {
    throw new HyperhiveError('not_supported', `the ${this.kind} runtime cannot open a terminal into ${spec.name}`, { runtime: this.kind });
  }

  async exec(name: string, o: ExecOptions): Promise<PtyHandle> {
    const e = this.entries.get(name);
    const state = e?.status.state ?? 'none';
    if (!e || !e.proc || state !== 'running') {
      throw new HyperhiveError('conflict', `agent ${name} is not running (runtime state: ${state}): a terminal opens only into a running agent`, { name, state });
    }
    const handle = this.openPty(e.spec, e.revision, o);
    let set = this.ptys.get(name);
    if (!set) this.ptys.set(name, set = new Set());
    set.add(handle);
    handle.onExit(() => { set!.delete(handle); });
    return handle;
  }

  /** Ends every terminal into the agent: it stops, or another revision replaces what they were opened into. */
  private endPtys(name: string): void {
    const set = this.ptys.get(name);
    if (!set) return;
    this.ptys.delete(name);
    for (const h of set) { try { h.kill('SIGHUP'); } catch { /* gone */ } }
  }

  async close(): Promise<void> {
    await Promise.all([...this.entries.values()].map((e) => this.halt(e)));
  }

  /**
   * Lets go of every agent without stopping it (systemd supervises them: they survive this
   * controller, and the next one takes them over). Pending restarts are cancelled.
   */
  protected detachAll(): void {
    for (const e of this.entries.values()) {
      e.stopping = true;
      if (e.timer) { clearTimeout(e.timer); e.timer = null; }
      e.proc = null;
      e.status = { ...e.status, state: 'stopped', pid: null };
    }
  }

  /** The running agent's handle (its pid, the backend's own extras), or null. */
  protected running(name: string): Launched | null { return this.entries.get(name)?.proc ?? null; }
}
