import os from 'node:os';
import { prop, type DBusVariant, type SystemdBus, type UnitChange, type UnitSnapshot } from '../dbus/systemd.ts';
import type { Exit, Launched } from './supervisor.ts';
import type { AgentSpec, WatcherHealth } from './types.ts';
import { unitName } from './nspawn-argv.ts';

const SIGNALS = new Map<number, string>(Object.entries(os.constants.signals).map(([n, v]) => [v, n]));
const CLD_EXITED = 1;

/** One unit this runtime started (or took over) and waits on. */
interface Watch {
  unit: string;
  /** A stop was asked for: its end is no crash. */
  stopping: boolean;
  sawActive: boolean;
  /** The start job finished (JobRemoved): `inactive` from now on means it ended. */
  jobDone: boolean;
  done: boolean;
  /** A read that failed while the bus seemed up, scheduled again (with its backoff). */
  retry: NodeJS.Timeout | null;
  retryMs: number;
  exited: Promise<Exit>;
  resolve: (x: Exit) => void;
}

/** How a unit's main process ended, from systemd's Service properties. */
export function exitOf(s: UnitSnapshot | null, unit: string, fallback: string): Exit {
  if (!s) return { code: null, signal: null, unit, result: fallback };
  const exitedNormally = s.execMainCode === CLD_EXITED || s.execMainCode === null;
  const code = exitedNormally ? s.execMainStatus : null;
  const signal = !exitedNormally && s.execMainStatus !== null ? SIGNALS.get(s.execMainStatus) ?? String(s.execMainStatus) : null;
  const result = s.result ?? (s.activeState === 'failed' ? 'failed' : 'success');
  return { code, signal, unit, result };
}

/**
 * `--systemd on`: each agent's container is a transient unit `hyperhive-agent-<name>.service`,
 * started with StartTransientUnit and the properties NixOS gives its containers, and watched over
 * the bus: PropertiesChanged on ActiveState, JobRemoved for its start job. A unit that fails (or
 * stops without a stop asked for) ends its Launched with systemd's Result, and the supervisor
 * restarts it with backoff; after the bus comes back every unit is read again.
 */
export class UnitSupervisor {
  private watches = new Map<string, Watch>();
  private offs: (() => void)[];
  private closed = false;

  constructor(private readonly bus: SystemdBus, private readonly o: { stopTimeoutMs: number }) {
    this.offs = [
      bus.onUnit((c) => this.changed(c)),
      bus.onJobRemoved((j) => {
        const w = this.watches.get(j.unit);
        if (!w || w.done) return;
        w.jobDone = true;
        // The start job failed (dependency, timeout, a bad property): the unit never ran.
        if (j.result !== 'done' && !w.stopping) w.resolve({ code: null, signal: null, unit: j.unit, result: j.result });
        else void this.refresh(w);
      }),
      bus.onReconnect(() => { for (const w of this.watches.values()) if (!w.done) void this.refresh(w); }),
    ];
    bus.start();
  }

  health(): WatcherHealth { return this.bus.health(); }
  onHealth(fn: (h: WatcherHealth) => void): () => void { return this.bus.onHealth(fn); }

  private watch(unit: string): Watch {
    let resolve!: (x: Exit) => void;
    const exited = new Promise<Exit>((r) => { resolve = r; });
    const w: Watch = { unit, stopping: false, sawActive: false, jobDone: false, done: false, retry: null, retryMs: 0, exited, resolve: () => undefined };
    w.resolve = (x) => { if (w.done) return; w.done = true; if (w.retry) clearTimeout(w.retry); if (this.watches.get(unit) === w) this.watches.delete(unit); resolve(x); };
    this.watches.set(unit, w);
    return w;
  }

  private changed(c: UnitChange): void {
    const w = this.watches.get(c.unit);
    if (!w || w.done || !('ActiveState' in c.changed)) return;
    const state = String(c.changed.ActiveState);
    if (state === 'active') w.sawActive = true;
    // Read the Service properties too: how the main process ended comes with them.
    if (state === 'failed' || state === 'inactive') void this.refresh(w);
  }

  /** Reads the unit now and ends the watch if the unit has ended (or is gone). */
  private async refresh(w: Watch): Promise<void> {
    let s: UnitSnapshot | null;
    try {
      s = await this.bus.unit(w.unit);
    } catch {
      // The bus is away (the reconnect reads it again), or connected while systemd is not on it yet
      // (a bus that came back before its systemd): no reconnect would come, so read again later.
      this.retryLater(w);
      return;
    }
    w.retryMs = 0;
    if (w.done) return;
    if (!s) { if (w.sawActive || w.jobDone) w.resolve(exitOf(null, w.unit, w.stopping ? 'success' : 'gone')); return; }
    if (s.activeState === 'active' || s.activeState === 'reloading') { w.sawActive = true; return; }
    if (s.activeState === 'failed' || (s.activeState === 'inactive' && (w.sawActive || w.jobDone))) w.resolve(exitOf(s, w.unit, 'success'));
  }

  private retryLater(w: Watch): void {
    if (w.done || w.retry || this.closed) return;
    w.retryMs = Math.min(Math.max(w.retryMs * 2, 100), 5_000);
    w.retry = setTimeout(() => { w.retry = null; void this.refresh(w); }, w.retryMs);
    w.retry.unref();
  }

  /** The transient unit's properties: those NixOS gives container@ units, with the controller restarting it (Restart=no). */
  properties(spec: AgentSpec, revision: string, argv: string[], logFile: string): [string, DBusVariant][] {
    return [
      prop.s('Description', `hyperhive agent ${spec.name} at ${revision.slice(0, 7)}`),
      prop.exec('ExecStart', argv),
      prop.s('Type', 'notify'),
      prop.s('KillMode', 'mixed'),
      prop.b('Delegate', true),
      prop.s('Slice', 'machine.slice'),
      prop.s('Restart', 'no'),
      prop.t('TimeoutStopUSec', this.o.stopTimeoutMs * 1000),
      prop.s('DevicePolicy', 'closed'),
      prop.pairs('DeviceAllow', [['/dev/net/tun', 'rwm'], ['char-pts', 'rw']]),
      prop.s('StandardOutputFileToAppend', logFile),
      prop.s('StandardErrorFileToAppend', logFile),
      prop.as('Environment', [`HYPERHIVE_AGENT=${spec.name}`]),
    ];
  }

  launch(spec: AgentSpec, revision: string, argv: string[], logFile: string): Launched {
    const unit = unitName(spec.name);
    const w = this.watch(unit);
    void (async () => {
      // A failed transient unit stays loaded until reset: a start of the same name would be refused.
      await this.bus.resetFailedUnit(unit).catch(() => undefined);
      await this.bus.startTransientUnit(unit, this.properties(spec, revision, argv, logFile));
      await this.refresh(w);
    })().catch((e) => w.resolve({ code: null, signal: null, unit, error: `cannot start unit ${unit}: ${(e as Error).message}` }));
    return this.launched(w);
  }

  /** A unit an earlier controller started, still active: watched from now on. */
  adopt(spec: AgentSpec): Launched {
    const w = this.watch(unitName(spec.name));
    w.sawActive = true;
    void this.refresh(w);
    return this.launched(w);
  }

  private launched(w: Watch): Launched {
    return {
      pid: null, exited: w.exited,
      kill: (sig) => {
        w.stopping = true;
        if (sig === 'SIGKILL') {
          // The last word: whatever the bus says, the supervisor stops waiting.
          void this.bus.killUnit(w.unit, 'all', 9).catch(() => undefined).finally(() => w.resolve({ code: null, signal: 'SIGKILL', unit: w.unit, result: 'signal' }));
          return;
        }
        void this.bus.stopUnit(w.unit).then(() => this.refresh(w), () => undefined);
      },
    };
  }

  async isActive(unit: string): Promise<boolean> {
    const s = await this.bus.unit(unit).catch(() => null);
    return !!s && (s.activeState === 'active' || s.activeState === 'activating' || s.activeState === 'reloading');
  }

  async mainPid(unit: string): Promise<number | null> {
    return (await this.bus.unit(unit).catch(() => null))?.mainPid ?? null;
  }

  /** Stops a unit left from before (not taken over) and clears its failed state, so a new start is accepted. */
  async clear(unit: string): Promise<void> {
    const s = await this.bus.unit(unit).catch(() => null);
    if (!s) return;
    if (s.activeState !== 'inactive' && s.activeState !== 'failed') {
      await this.bus.stopUnit(unit).catch(() => undefined);
      const until = Date.now() + this.o.stopTimeoutMs;
      for (;;) {
        const now = await this.bus.unit(unit).catch(() => null);
        if (!now || now.activeState === 'inactive' || now.activeState === 'failed') break;
        if (Date.now() > until) { await this.bus.killUnit(unit, 'all', 9).catch(() => undefined); break; }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await this.bus.resetFailedUnit(unit).catch(() => undefined);
  }

  close(): void {
    this.closed = true;
    for (const w of this.watches.values()) if (w.retry) clearTimeout(w.retry);
    for (const off of this.offs) off();
    this.watches.clear();
    this.bus.close();
  }
}
