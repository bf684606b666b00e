import { spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HyperhiveError } from '../errors.ts';
import { shellQuote } from '../../repos/credential-helper.ts';
import { SystemdBus } from '../dbus/systemd.ts';
import { checkedOutRevision, installStaged, stageRevision } from './checkout.ts';
import { commandBuilder, nixSystem, renderAgentFlake, TOPLEVEL_ATTR, type NixBuilder } from './nix-build.ts';
import { argvHash, machineName, nspawnArgv, unitName, type NspawnPlan } from './nspawn-argv.ts';
import { UnitSupervisor } from './nspawn-units.ts';
import { childrenOf, cmdlineOf, exited, namespaceInitUnder, processStartedAt } from './procfs.ts';
import { shellAtPrompt, spawnPty } from './pty.ts';
import { chooseRange, chownTree, defaultHostDirs, ensureRootfs, rootfsRange } from './rootfs.ts';
import { SupervisedRuntime, type Exit, type Launched, type SupervisorOptions } from './supervisor.ts';
import { contractEnv, type AgentSpec, type ExecOptions, type Prepared, type PtyHandle, type RuntimeHealth } from './types.ts';
import { ensureWorkingClone } from './working-clone.ts';

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where the Contract's paths are inside a container. */
export const CONTAINER_TARGETS = { config: '/hyperhive/config', state: '/hyperhive/state', token: '/hyperhive/token' } as const;

/** The spec with its mounts at the container's paths (sources unchanged): what the agent's HYPERHIVE_* then name. */
export function withContainerTargets(spec: AgentSpec): AgentSpec {
  const m = spec.mounts;
  return {
    ...spec,
    mounts: {
      config: { ...m.config, target: CONTAINER_TARGETS.config },
      state: { ...m.state, target: CONTAINER_TARGETS.state },
      token: { ...m.token, target: CONTAINER_TARGETS.token },
    },
  };
}

export interface NspawnRuntimeOptions extends SupervisorOptions {
  /** `on`: each agent is a transient unit started and watched over the system bus; `off`: the runtime's own child. */
  systemd?: 'on' | 'off';
  /** The system bus (systemd on); default: one on $DBUS_SYSTEM_BUS_ADDRESS. */
  bus?: SystemdBus;
  /** Build each revision's system with Nix and boot it (a NixOS host); default: /etc/NIXOS exists. */
  nixos?: boolean;
  builder?: NixBuilder;
  /** The hyperhive flake agent systems are built from (default $HYPERHIVE_FLAKE, else this checkout). */
  hyperhiveFlake?: string;
  /** Host directories bound read-only at the same path (default: /usr and friends, or /nix/store on NixOS). */
  hostDirs?: string[];
  /** Passed to systemd-nspawn before the command (e.g. `--private-network`). */
  extraArgs?: string[];
  binary?: string;
  nsenter?: string;
  /** How often a taken-over container (not a child) is checked for having exited. */
  adoptPollMs?: number;
  /** The uid a terminal runs as inside (default root of the container, as the harness: container.nix's hyperhiveAgent.user). */
  execUid?: number;
}

interface NspawnPrepared extends Prepared {
  staged: string | null;
  /** The built system (NixOS): its `init` is the container's PID 1. */
  toplevel: string | null;
  /** A container of an earlier controller runs exactly this: take it over instead of restarting. */
  adopt: boolean;
}

/** What the next controller reads to find (and perhaps take over) what this one started. */
interface RunRecord { mode: 'supervised' | 'unit'; pid: number | null; revision: string; argv: string; toplevel: string | null }

const agentDir = (spec: AgentSpec): string => path.dirname(spec.mounts.state.source);
const recordFile = (spec: AgentSpec): string => path.join(agentDir(spec), 'runtime.json');
const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

function onPath(bin: string): string | null {
  if (bin.includes('/')) return fs.existsSync(bin) ? bin : null;
  for (const d of (process.env.PATH ?? '/usr/bin:/bin').split(':')) if (d && fs.existsSync(path.join(d, bin))) return path.join(d, bin);
  return null;
}

/** The project (the harness and the idle agent run from it), its real node_modules and node's own tree, where /usr does not hold them. */
function projectDirs(hostDirs: string[]): string[] {
  const covered = (p: string) => hostDirs.some((d) => p === d || p.startsWith(`${d}/`));
  const out = [PROJECT_ROOT];
  try { const nm = fs.realpathSync(path.join(PROJECT_ROOT, 'node_modules')); if (!nm.startsWith(`${PROJECT_ROOT}/`)) out.push(nm); } catch { /* none */ }
  const node = path.dirname(path.dirname(fs.realpathSync(process.execPath)));
  if (!covered(process.execPath) && !covered(node)) out.push(node);
  return out.filter((d) => !covered(d));
}

/**
 * Agents in unprivileged systemd-nspawn containers: root inside is a host uid range of its own
 * (`--private-users=pick`), the revision's config bound read-only, the state dir read-write (owned by
 * that range), the token read-only (idmapped: readable by root inside, never copied), the host's
 * software read-only, the Contract's environment with the controller's URL as the container reaches
 * it (it shares the host's network unless extraArgs say otherwise). On NixOS each revision is first
 * built from the agent's flake and its system's init boots the container.
 */
export class NspawnRuntime extends SupervisedRuntime<NspawnPrepared> {
  readonly kind = 'nspawn' as const;
  readonly isolated = true;
  protected readonly note: string;
  readonly nixos: boolean;
  private readonly hostDirs: string[];
  private readonly binds: string[];
  private readonly extraArgs: string[];
  private readonly binary: string;
  private readonly nsenter: string;
  private readonly builder: NixBuilder;
  private readonly hyperhiveFlake: string;
  private readonly adoptPollMs: number;
  private readonly execUid: number;
  private readonly units: UnitSupervisor | null;
  private toplevels = new Map<string, string>();
  private argvs = new Map<string, string[]>();

  constructor(o: NspawnRuntimeOptions = {}) {
    super({ stopTimeoutMs: 10_000, ...o });
    this.nixos = o.nixos ?? fs.existsSync('/etc/NIXOS');
    const base = o.hostDirs ?? defaultHostDirs(this.nixos);
    this.hostDirs = this.nixos && !o.hostDirs ? base : [...base, ...projectDirs(base)];
    this.binds = this.hostDirs.filter((d) => { try { const st = fs.lstatSync(d); return !st.isSymbolicLink() || path.isAbsolute(fs.readlinkSync(d)); } catch { return false; } });
    this.extraArgs = o.extraArgs ?? [];
    this.binary = o.binary ?? 'systemd-nspawn';
    this.nsenter = o.nsenter ?? 'nsenter';
    this.builder = o.builder ?? commandBuilder();
    this.hyperhiveFlake = o.hyperhiveFlake ?? process.env.HYPERHIVE_FLAKE ?? `path:${PROJECT_ROOT}`;
    this.adoptPollMs = o.adoptPollMs ?? 250;
    this.execUid = o.execUid ?? 0;
    this.units = o.systemd === 'on' ? new UnitSupervisor(o.bus ?? new SystemdBus(), { stopTimeoutMs: this.o.stopTimeoutMs }) : null;
    this.note = `nspawn runtime: each agent in an unprivileged systemd-nspawn container${this.nixos ? ' built by Nix from its flake' : ''}, ${this.units ? 'a transient systemd unit watched over D-Bus' : 'supervised by the controller'}`;
  }

  health(): RuntimeHealth {
    return { kind: this.kind, isolated: true, systemd: !!this.units, note: this.note, watcher: this.units?.health() ?? null };
  }

  onHealth(fn: (h: RuntimeHealth) => void): () => void {
    return this.units ? this.units.onHealth(() => fn(this.health())) : () => undefined;
  }

  /** Why this host cannot run containers, in words an operator can act on; null when it can. */
  static unavailable(binary = 'systemd-nspawn'): string | null {
    if (!isRoot()) return 'the nspawn runtime needs root (systemd-nspawn --private-users=pick maps each agent to a host uid range)';
    if (!onPath(binary)) return `${binary} is not installed (Debian: apt-get install systemd-container)`;
    return null;
  }

  private preflight(spec: AgentSpec): void {
    const why = NspawnRuntime.unavailable(this.binary);
    if (why) throw new HyperhiveError('not_supported', why, { runtime: 'nspawn' });
    for (const m of Object.values(spec.mounts)) {
      // nspawn splits bind specs on ':'.
      if (m.source.includes(':') || m.target.includes(':')) throw new HyperhiveError('bad_request', `the nspawn runtime cannot bind ${JSON.stringify(m.source)}: paths must not contain ':'`);
    }
  }

  protected async stage(spec: AgentSpec, revision: string, first: boolean): Promise<NspawnPrepared> {
    this.preflight(spec);
    if (first) {
      if (await this.adoptable(spec, revision)) return { name: spec.name, revision, spec, staged: null, toplevel: this.readRecord(spec)?.toplevel ?? null, adopt: true };
      await this.clearStale(spec);
    }
    const staged = await stageRevision(spec.repo, revision, spec.mounts.config.source);
    let toplevel: string | null = null;
    if (this.nixos) {
      try { toplevel = await this.build(spec, revision, staged); } catch (e) { await fsp.rm(staged, { recursive: true, force: true }); throw e; }
    }
    return { name: spec.name, revision, spec, staged, toplevel, adopt: false };
  }

  /** `nix build` of the agent's rendered flake (its config as of `revision`); the system's store path. */
  private async build(spec: AgentSpec, revision: string, configDir: string): Promise<string> {
    const flakeDir = path.join(agentDir(spec), 'flake');
    await renderAgentFlake(flakeDir, configDir, {
      agent: spec.name, revision, hyperhiveFlake: this.hyperhiveFlake, system: nixSystem(),
      contract: { ...spec.env, ...contractEnv(spec) },
    });
    const { outPath } = await this.builder.build({ agent: spec.name, revision, flakeDir, attr: TOPLEVEL_ATTR, logFile: path.join(agentDir(spec), 'build.log') });
    return outPath;
  }

  protected async install(p: NspawnPrepared): Promise<void> {
    if (p.staged) await installStaged(p.staged, p.spec.mounts.config.source);
    if (p.toplevel) this.toplevels.set(p.name, p.toplevel);
  }

  protected async release(p: NspawnPrepared): Promise<void> {
    if (p.staged) await fsp.rm(p.staged, { recursive: true, force: true });
  }

  /** The container's argv for a revision (pure given the spec and the built system). */
  private argvFor(spec: AgentSpec, toplevel: string | null): string[] {
    const plan: NspawnPlan = {
      machine: machineName(spec.name), rootfs: path.join(agentDir(spec), 'rootfs'),
      // Idmapped: root inside reads them as its own (a write meets EROFS, not a permission error).
      mounts: [{ ...spec.mounts.config, idmap: true }, spec.mounts.state, { ...spec.mounts.token, idmap: true }],
      hostDirs: this.binds, env: this.containerEnv(spec), cwd: spec.mounts.state.target,
      mode: this.nixos ? 'nixos' : 'plain', command: this.nixos ? [`${toplevel}/init`] : spec.command,
      extraArgs: this.extraArgs, notify: !!this.units && this.nixos,
    };
    return nspawnArgv(plan, this.binary);
  }

  private containerEnv(spec: AgentSpec): Record<string, string> {
    const nodeBin = path.dirname(process.execPath);
    const std = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
    return {
      PATH: std.split(':').includes(nodeBin) ? std : `${std}:${nodeBin}`,
      HOME: spec.mounts.state.target, LANG: process.env.LANG ?? 'C.UTF-8',
      ...spec.env, ...contractEnv(spec),
    };
  }

  /**
   * The rootfs and the uid range, made ready for a start: the range is the rootfs owner's (chosen
   * here the first time, away from the other agents' ranges, and the rootfs given to it so that
   * `pick` keeps it), and the state dir is given to the range too, so root inside may write it.
   */
  private ready(spec: AgentSpec): number {
    const rootfs = path.join(agentDir(spec), 'rootfs');
    ensureRootfs(rootfs, this.hostDirs);
    let base = rootfsRange(rootfs);
    if (base === null) {
      base = chooseRange(rootfs, this.takenRanges(spec));
      chownTree(rootfs, base);
    }
    const state = spec.mounts.state.source;
    fs.mkdirSync(state, { recursive: true });
    if (fs.statSync(state).uid !== base) chownTree(state, base);
    return base;
  }

  private takenRanges(spec: AgentSpec): Set<number> {
    const agents = path.dirname(agentDir(spec));
    const taken = new Set<number>();
    for (const n of fs.readdirSync(agents)) {
      if (n === spec.name) continue;
      const r = rootfsRange(path.join(agents, n, 'rootfs'));
      if (r !== null) taken.add(r);
    }
    return taken;
  }

  /** The uid range of the agent's container (root inside is this host uid), or null before its first start. */
  uidBase(spec: AgentSpec): number | null { return rootfsRange(path.join(agentDir(spec), 'rootfs')); }

  protected launch(spec: AgentSpec, revision: string): Launched {
    this.ready(spec);
    const argv = this.argvFor(spec, this.toplevels.get(spec.name) ?? null);
    this.argvs.set(spec.name, argv);
    if (this.units) return this.units.launch(spec, revision, argv, path.join(agentDir(spec), 'runtime.log'));
    const logFd = fs.openSync(path.join(agentDir(spec), 'runtime.log'), 'a');
    let child;
    try {
      child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', logFd, logFd], detached: true });
    } finally {
      fs.closeSync(logFd);
    }
    const done = new Promise<Exit>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', (err) => { if (child.pid === undefined) resolve({ code: null, signal: null, error: `${argv[0]}: ${err.message}` }); });
    });
    return { pid: child.pid ?? null, exited: done, kill: (sig) => { if (child.pid) this.signalContainer(child.pid, sig); } };
  }

  /**
   * Signals a container by its nspawn pid. A stop goes to the agent's command itself (PID 2, under
   * the stub init; on NixOS nspawn turns it into a halt of the system); SIGKILL ends the container's
   * PID 1, and with it every process in its namespace.
   */
  private signalContainer(nspawnPid: number, sig: NodeJS.Signals, waitMs = 2000): void {
    const init = namespaceInitUnder(nspawnPid);
    const send = (pid: number, s: NodeJS.Signals) => { try { process.kill(pid, s); } catch { /* gone */ } };
    if (sig === 'SIGKILL') { if (init) send(init, 'SIGKILL'); send(nspawnPid, 'SIGKILL'); return; }
    if (this.nixos) { send(nspawnPid, sig); return; }
    const payload = init ? childrenOf(init)[0] : undefined;
    if (payload) { send(payload, sig); return; }
    // Still starting (nspawn has not forked the command yet): a halt now would race its start.
    if (waitMs > 0 && !exited(nspawnPid)) { setTimeout(() => this.signalContainer(nspawnPid, sig, waitMs - 20), 20).unref(); return; }
    send(nspawnPid, sig);
  }

  /** The agent's command as the host sees it (PID 2 of its container), once the container is up. */
  agentPid(name: string): number | null {
    const nspawnPid = this.units ? null : this.running(name)?.pid ?? null;
    const init = nspawnPid ? namespaceInitUnder(nspawnPid) : null;
    return init ? childrenOf(init)[0] ?? null : null;
  }

  protected override recordRunning(spec: AgentSpec, pid: number | null, revision: string): void {
    const argv = this.argvs.get(spec.name);
    const rec: RunRecord = { mode: this.units ? 'unit' : 'supervised', pid, revision, argv: argv ? argvHash(argv) : '', toplevel: this.toplevels.get(spec.name) ?? null };
    try { fs.writeFileSync(recordFile(spec), `${JSON.stringify(rec)}\n`); } catch { /* purged */ }
  }

  protected override recordEnded(spec: AgentSpec): void {
    try { fs.rmSync(recordFile(spec), { force: true }); } catch { /* purged */ }
  }

  private readRecord(spec: AgentSpec): RunRecord | null {
    try { return JSON.parse(fs.readFileSync(recordFile(spec), 'utf8')) as RunRecord; } catch { return null; }
  }

  /** An earlier controller's container runs exactly `revision`, started exactly as this one would start it. */
  private async adoptable(spec: AgentSpec, revision: string): Promise<boolean> {
    const rec = this.readRecord(spec);
    if (!rec || rec.revision !== revision || rec.mode !== (this.units ? 'unit' : 'supervised')) return false;
    if (await checkedOutRevision(spec.mounts.config.source) !== revision) return false;
    const argv = this.argvFor(spec, rec.toplevel);
    if (rec.argv !== argvHash(argv)) return false;
    if (this.units) return this.units.isActive(unitName(spec.name));
    const pid = rec.pid;
    if (!pid || exited(pid)) return false;
    const cmd = cmdlineOf(pid);
    if (!cmd || argvHash([this.binary, ...cmd.slice(1)]) !== rec.argv) return false;
    this.argvs.set(spec.name, argv);
    if (rec.toplevel) this.toplevels.set(spec.name, rec.toplevel);
    return true;
  }

  protected override takeOver(p: NspawnPrepared): { launched: Launched; startedAt: number } | null {
    if (!p.adopt) return null;
    const spec = p.spec;
    this.argvs.set(spec.name, this.argvFor(spec, p.toplevel));
    if (this.units) return { launched: this.units.adopt(spec), startedAt: this.o.now() };
    const pid = this.readRecord(spec)?.pid;
    if (!pid || exited(pid)) return null;
    const poll = this.adoptPollMs;
    const done = new Promise<Exit>((resolve) => {
      const t = setInterval(() => { if (exited(pid)) { clearInterval(t); resolve({ code: null, signal: null }); } }, poll);
    });
    return { launched: { pid, exited: done, kill: (sig) => this.signalContainer(pid, sig) }, startedAt: processStartedAt(pid) ?? this.o.now() };
  }

  /** Stops what an earlier controller left of this agent (its unit, or its nspawn process) before starting anew. */
  private async clearStale(spec: AgentSpec): Promise<void> {
    if (this.units) { await this.units.clear(unitName(spec.name)); return; }
    const machine = `--machine=${machineName(spec.name)}`;
    const dir = `--directory=${path.join(agentDir(spec), 'rootfs')}`;
    const stale: number[] = [];
    let pids: string[] = [];
    try { pids = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)); } catch { /* no /proc */ }
    for (const d of pids) {
      const cmd = cmdlineOf(Number(d));
      if (cmd && path.basename(cmd[0] ?? '') === path.basename(this.binary) && cmd.includes(machine) && cmd.includes(dir)) stale.push(Number(d));
    }
    for (const pid of stale) this.signalContainer(pid, 'SIGTERM');
    const until = Date.now() + this.o.stopTimeoutMs;
    while (stale.some((pid) => !exited(pid)) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    for (const pid of stale) if (!exited(pid)) this.signalContainer(pid, 'SIGKILL');
    this.recordEnded(spec);
  }

  protected override afterStart(spec: AgentSpec, revision: string): void {
    if (!spec.workingClone) return;
    const owner = this.uidBase(spec);
    void ensureWorkingClone(spec, { owner }).catch((err) => this.emit({ type: 'warning', agent: spec.name, revision, message: `working clone not prepared: ${(err as Error).message}` }));
  }

  /** The host pid of the container's PID 1 (its namespaces are the agent's), waiting a moment for a container still starting. */
  private async containerInit(name: string, waitMs = 5000): Promise<number | null> {
    const until = Date.now() + waitMs;
    for (;;) {
      const nspawnPid = this.units ? await this.units.mainPid(unitName(name)) : this.running(name)?.pid ?? null;
      const init = nspawnPid ? namespaceInitUnder(nspawnPid) : null;
      if (init || !nspawnPid || Date.now() > until) return init;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * A terminal inside the running container: nsenter into all of its namespaces (the user namespace
   * too, so the shell is root of the container, an unprivileged uid on the host), as the agent's
   * user, with the agent's environment, in its state dir.
   */
  override async exec(name: string, o: ExecOptions): Promise<PtyHandle> {
    const st = this.status(name);
    const init = st.state === 'running' || this.units ? await this.containerInit(name) : null;
    if (!init) throw new HyperhiveError('conflict', `agent ${name} is not running (runtime ${st.state}): there is no container to open a terminal in`, { name, state: st.state });
    const spec = this.specOf(name);
    const env = { ...this.containerEnv(spec), TERM: 'xterm-256color', ...o.env };
    const argv = [
      this.nsenter, `--target=${init}`, '--all', `--setuid=${this.execUid}`, `--setgid=${this.execUid}`, '--',
      '/usr/bin/env', '-i', '-C', spec.mounts.state.target, ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
      // script(1) gives the command a terminal of the container's own devpts, in a session inside:
      // a shell on the host's PTY directly would find its process group outside its pid namespace.
      // `exec`: script's child is the command itself (not a shell around it), which atPrompt reads.
      'script', '-q', '-e', '-c', `exec ${(o.command ?? ['/bin/sh', '-l']).map(shellQuote).join(' ')}`, '/dev/null',
    ];
    const pty = spawnPty(argv, { cwd: '/', cols: o.cols, rows: o.rows, env: { TERM: env.TERM, PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    // At its prompt when the shell inside (script's child, on script's own terminal) has that
    // terminal to itself; the host PTY's foreground is always nsenter's, which says nothing.
    const shellInside = (): number | null => { const sc = childrenOf(pty.pid ?? 0)[0]; return sc ? childrenOf(sc)[0] ?? null : null; };
    return { ...pty, atPrompt: () => { const sh = shellInside(); return sh !== null && shellAtPrompt(sh); } };
  }

  private specs = new Map<string, AgentSpec>();
  override async activate(p: NspawnPrepared): Promise<void> {
    this.specs.set(p.name, p.spec);
    await super.activate(p);
  }

  private specOf(name: string): AgentSpec {
    const s = this.specs.get(name);
    if (!s) throw new HyperhiveError('conflict', `agent ${name} was never started by this runtime`, { name });
    return s;
  }

  override async close(): Promise<void> {
    if (!this.units) return super.close();
    // systemd supervises the units: they run on, and the next controller takes them over.
    this.detachAll();
    this.units.close();
  }
}
