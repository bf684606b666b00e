import fsp from 'node:fs/promises';
import { installStaged, stageRevision } from './checkout.ts';
import { SupervisedRuntime, type Exit, type Launched, type SupervisorOptions } from './supervisor.ts';
import { hostShellPty } from './pty.ts';
import { contractEnv, type AgentSpec, type ExecOptions, type Prepared, type PtyHandle } from './types.ts';

interface FakePrepared extends Prepared { staged: string }
interface FakeProc { pid: number; env: Record<string, string>; end: (x: Exit) => void; signals: string[] }

/**
 * The runtime contract's twin for tests: the same supervision as every backend (backoff, stop,
 * building, events) and a real checkout of the config, but the agent is a stand-in, not a process.
 * Tests end it (`exit`), hold or fail a prepare, and fail a start, to drive the reconciler without
 * processes or timing luck.
 */
export class FakeRuntime extends SupervisedRuntime<FakePrepared> {
  readonly kind = 'fake' as const;
  readonly isolated = false;
  protected readonly note = 'fake runtime (tests): nothing runs';
  private nextPid = 100_000;
  private procs = new Map<string, FakeProc>();
  private gates = new Map<string, Promise<void>>();
  private prepareFailures = new Map<string, string>();
  private launchFailures = new Map<string, string>();
  /** How often each agent was started and prepared: counters tests wait on. */
  readonly launches = new Map<string, number>();
  readonly prepares = new Map<string, number>();

  constructor(opts: SupervisorOptions = {}) {
    super({ minBackoffMs: 50, maxBackoffMs: 1000, stopTimeoutMs: 1000, ...opts });
  }

  /** Holds the agent's next prepares until the returned function is called. */
  holdPrepare(name: string): () => void {
    let release!: () => void;
    this.gates.set(name, new Promise<void>((r) => { release = r; }));
    return () => { this.gates.delete(name); release(); };
  }

  /** The agent's next prepare fails with `error` (as a Nix build would). */
  failNextPrepare(name: string, error: string): void { this.prepareFailures.set(name, error); }
  /** The agent's next start fails with `error` (its command cannot run). */
  failNextLaunch(name: string, error: string): void { this.launchFailures.set(name, error); }

  /** The running stand-in ends by itself, as a process would exit or be killed. */
  exit(name: string, x: Exit = { code: 1, signal: null }): void {
    const p = this.procs.get(name);
    if (!p) throw new Error(`fake runtime: ${name} is not running`);
    p.end(x);
  }

  /** The environment the running stand-in was given (the Contract's and the spec's). */
  envOf(name: string): Record<string, string> | null { return this.procs.get(name)?.env ?? null; }

  protected async stage(spec: AgentSpec, revision: string): Promise<FakePrepared> {
    this.prepares.set(spec.name, (this.prepares.get(spec.name) ?? 0) + 1);
    await this.gates.get(spec.name);
    const fail = this.prepareFailures.get(spec.name);
    if (fail !== undefined) {
      this.prepareFailures.delete(spec.name);
      throw Object.assign(new Error(fail), { logTail: `build log of ${revision.slice(0, 7)}\n${fail}` });
    }
    return { name: spec.name, revision, spec, staged: await stageRevision(spec.repo, revision, spec.mounts.config.source) };
  }

  /** A real shell (node-pty) in the agent's state dir: the terminal's tests need a real round trip, not a stand-in. */
  protected override openPty(spec: AgentSpec, _revision: string, o: ExecOptions): PtyHandle { return hostShellPty(spec, o); }

  protected async install(p: FakePrepared): Promise<void> { await installStaged(p.staged, p.spec.mounts.config.source); }
  protected async release(p: FakePrepared): Promise<void> { await fsp.rm(p.staged, { recursive: true, force: true }); }

  protected launch(spec: AgentSpec): Launched {
    const fail = this.launchFailures.get(spec.name);
    if (fail !== undefined) { this.launchFailures.delete(spec.name); throw new Error(fail); }
    this.launches.set(spec.name, (this.launches.get(spec.name) ?? 0) + 1);
    let end!: (x: Exit) => void;
    const exited = new Promise<Exit>((r) => { end = r; });
    const proc: FakeProc = { pid: this.nextPid++, env: { ...spec.env, ...contractEnv(spec) }, end, signals: [] };
    this.procs.set(spec.name, proc);
    void exited.then(() => { if (this.procs.get(spec.name) === proc) this.procs.delete(spec.name); });
    return {
      pid: proc.pid, exited,
      // A stand-in obeys every signal at once, as a well-behaved agent does SIGTERM.
      kill: (sig) => { proc.signals.push(sig); end({ code: null, signal: sig }); },
    };
  }
}
