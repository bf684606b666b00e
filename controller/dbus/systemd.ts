import dbus from 'dbus-next';
import { HyperhiveError } from '../errors.ts';
import type { WatcherHealth } from '../runtime/types.ts';

const { Message, Variant, MessageType } = dbus;
type Msg = InstanceType<typeof Message>;
type Bus = ReturnType<typeof dbus.sessionBus>;
export type DBusVariant = InstanceType<typeof Variant>;

export const SYSTEMD = 'org.freedesktop.systemd1';
const MANAGER_PATH = '/org/freedesktop/systemd1';
const MANAGER = 'org.freedesktop.systemd1.Manager';
const UNIT = 'org.freedesktop.systemd1.Unit';
const SERVICE = 'org.freedesktop.systemd1.Service';
const PROPS = 'org.freedesktop.DBus.Properties';
const DEFAULT_SYSTEM_BUS = 'unix:path=/var/run/dbus/system_bus_socket';

/** A unit as systemd shows it: its state and, for a service, how its main process ended. */
export interface UnitSnapshot {
  unit: string;
  path: string;
  activeState: string;
  subState: string;
  /** The service's `Result` (`success`, `exit-code`, `signal`, `core-dump`, `timeout`, …). */
  result: string | null;
  mainPid: number | null;
  /** CLD_EXITED (1), CLD_KILLED (2) or CLD_DUMPED (3), with ExecMainStatus the status or the signal. */
  execMainCode: number | null;
  execMainStatus: number | null;
  description: string | null;
}

/** One PropertiesChanged of a unit's object, with the unit's name once its path is known. */
export interface UnitChange { unit: string; path: string; iface: string; changed: Record<string, unknown> }
export interface JobRemoved { id: number; job: string; unit: string; result: string }

/** What the dashboard shows of the watcher: connected or not, since when, and why not. */
export type BusHealth = WatcherHealth;

export interface SystemdBusOptions {
  /** The system bus address; default $DBUS_SYSTEM_BUS_ADDRESS, else the standard socket. */
  address?: string;
  minRetryMs?: number;
  maxRetryMs?: number;
  /** A call without an answer this long fails (a bus that died mid-call never answers). */
  callTimeoutMs?: number;
  now?: () => number;
}

/** An error from systemd or the bus, with its D-Bus error name (e.g. `org.freedesktop.systemd1.NoSuchUnit`). */
export class BusError extends Error {
  constructor(readonly type: string, message: string) { super(message); this.name = 'BusError'; }
}

const unwrap = (v: unknown): unknown => (v instanceof Variant ? unwrap(v.value) : v);
const unwrapAll = (o: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, unwrap(v)]));
const num = (v: unknown): number | null => (typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/**
 * systemd's manager over the system bus (dbus-next, raw messages: proxies need introspection, which
 * a mock of systemd does not answer the way systemd does). Connects in the background and again
 * whenever the bus goes away, with backoff; after a reconnect it subscribes again and tells its
 * listeners, who re-read what they watch (a unit may have failed while the bus was down).
 */
export class SystemdBus {
  readonly address: string;
  private bus: Bus | null = null;
  private h: BusHealth;
  private retryMs: number;
  private retryTimer: NodeJS.Timeout | null = null;
  private connectedOnce = false;
  private closed = false;
  private readonly paths = new Map<string, string>();
  private readonly unitFns = new Set<(c: UnitChange) => void>();
  private readonly jobFns = new Set<(j: JobRemoved) => void>();
  private readonly reconnectFns = new Set<() => void>();
  private readonly healthFns = new Set<(h: BusHealth) => void>();
  private waiters: (() => void)[] = [];
  private readonly o: Required<Omit<SystemdBusOptions, 'address'>>;

  constructor(o: SystemdBusOptions = {}) {
    this.address = o.address ?? process.env.DBUS_SYSTEM_BUS_ADDRESS ?? DEFAULT_SYSTEM_BUS;
    this.o = { minRetryMs: 200, maxRetryMs: 5000, callTimeoutMs: 10_000, now: Date.now, ...o };
    this.retryMs = this.o.minRetryMs;
    this.h = { state: 'connecting', address: this.address, since: this.o.now(), lastError: null, reconnects: 0, signals: 0 };
  }

  health(): BusHealth { return { ...this.h }; }
  onHealth(fn: (h: BusHealth) => void): () => void { this.healthFns.add(fn); return () => { this.healthFns.delete(fn); }; }
  onUnit(fn: (c: UnitChange) => void): () => void { this.unitFns.add(fn); return () => { this.unitFns.delete(fn); }; }
  onJobRemoved(fn: (j: JobRemoved) => void): () => void { this.jobFns.add(fn); return () => { this.jobFns.delete(fn); }; }
  /** After every reconnect (not the first connect): re-read whatever is watched. */
  onReconnect(fn: () => void): () => void { this.reconnectFns.add(fn); return () => { this.reconnectFns.delete(fn); }; }

  /** Starts connecting (idempotent); calls made meanwhile wait for the connection. */
  start(): void {
    if (this.bus || this.retryTimer || this.closed) return;
    this.connect();
  }

  private setHealth(state: BusHealth['state'], lastError: string | null = this.h.lastError): void {
    const changed = state !== this.h.state;
    this.h = { ...this.h, state, lastError, since: changed ? this.o.now() : this.h.since };
    if (changed) for (const f of [...this.healthFns]) { try { f(this.health()); } catch { /* a listener's own */ } }
  }

  private connect(): void {
    this.retryTimer = null;
    if (this.closed) return;
    if (this.h.state !== 'connecting') this.setHealth('connecting');
    let bus: Bus;
    try {
      bus = dbus.sessionBus({ busAddress: this.address });
    } catch (e) {
      this.drop(null, e as Error);
      return;
    }
    this.bus = bus;
    const conn = (bus as unknown as { _connection: NodeJS.EventEmitter })._connection;
    bus.on('error', (e: Error) => this.drop(bus, e));
    conn.on('end', () => this.drop(bus, new Error('the bus closed the connection')));
    bus.on('message', (m: Msg) => { if (m.type === MessageType.SIGNAL) this.signal(m); });
    bus.on('connect', () => { void this.setup(bus); });
  }

  private async setup(bus: Bus): Promise<void> {
    try {
      const add = (rule: string) => this.raw(bus, { destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'AddMatch', signature: 's', body: [rule] });
      await add(`type='signal',sender='${SYSTEMD}',interface='${PROPS}',member='PropertiesChanged'`);
      await add(`type='signal',sender='${SYSTEMD}',interface='${MANAGER}'`);
      // systemd sends unit signals only to subscribed clients; a mock may not know the method.
      await this.raw(bus, { destination: SYSTEMD, path: MANAGER_PATH, interface: MANAGER, member: 'Subscribe' }).catch(() => undefined);
    } catch (e) {
      this.drop(bus, e as Error);
      return;
    }
    if (this.bus !== bus) return;
    const again = this.connectedOnce;
    this.connectedOnce = true;
    this.retryMs = this.o.minRetryMs;
    if (again) this.h.reconnects += 1;
    this.setHealth('connected', null);
    for (const w of this.waiters.splice(0)) w();
    if (again) for (const f of [...this.reconnectFns]) { try { f(); } catch { /* a listener's own */ } }
  }

  /** The connection failed or ended: forget it and try again after a backoff. */
  private drop(bus: Bus | null, e: Error): void {
    if (bus && this.bus !== bus) return;
    this.bus = null;
    try { bus?.disconnect(); } catch { /* already gone */ }
    if (this.closed) return;
    this.setHealth('disconnected', e.message);
    if (this.retryTimer) return;
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, this.o.maxRetryMs);
    this.retryTimer = setTimeout(() => this.connect(), delay);
    this.retryTimer.unref();
  }

  private signal(m: Msg): void {
    const body = (m.body ?? []) as unknown[];
    if (m.interface === PROPS && m.member === 'PropertiesChanged' && m.path) {
      const unit = this.paths.get(m.path);
      if (!unit) return;
      this.h.signals += 1;
      const c: UnitChange = { unit, path: m.path, iface: String(body[0]), changed: unwrapAll((body[1] ?? {}) as Record<string, unknown>) };
      for (const f of [...this.unitFns]) { try { f(c); } catch { /* a listener's own */ } }
    } else if (m.interface === MANAGER && m.member === 'JobRemoved') {
      const j: JobRemoved = { id: Number(body[0]), job: String(body[1]), unit: String(body[2]), result: String(body[3]) };
      for (const f of [...this.jobFns]) { try { f(j); } catch { /* a listener's own */ } }
    }
  }

  private raw(bus: Bus, m: ConstructorParameters<typeof Message>[0]): Promise<Msg | null> {
    let timer!: NodeJS.Timeout;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new BusError('timeout', `no answer to ${m.member} within ${this.o.callTimeoutMs} ms`)), this.o.callTimeoutMs);
    });
    return Promise.race([bus.call(new Message(m)), timeout]).finally(() => clearTimeout(timer)).catch((e: unknown) => {
      const d = e as { type?: string; text?: string; message?: string };
      if (e instanceof BusError) throw e;
      throw new BusError(d.type ?? 'error', d.text ?? d.message ?? String(e));
    });
  }

  /** Resolves once connected; refuses with the reason when that takes longer than a call may. */
  private async ready(): Promise<Bus> {
    if (this.closed) throw new HyperhiveError('conflict', 'the D-Bus connection is closed');
    this.start();
    if (this.bus && this.h.state === 'connected') return this.bus;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => { this.waiters = this.waiters.filter((w) => w !== done); reject(new BusError('disconnected', `the system bus at ${this.address} is not reachable: ${this.h.lastError ?? 'connecting'}`)); }, this.o.callTimeoutMs);
      const done = () => { clearTimeout(t); resolve(); };
      this.waiters.push(done);
    });
    return this.bus!;
  }

  private async call(member: string, signature: string, body: unknown[], o: { path?: string; iface?: string } = {}): Promise<unknown[]> {
    const bus = await this.ready();
    const r = await this.raw(bus, { destination: SYSTEMD, path: o.path ?? MANAGER_PATH, interface: o.iface ?? MANAGER, member, signature, body });
    return (r?.body ?? []) as unknown[];
  }

  /** StartTransientUnit(name, mode, properties, aux): the job's path. */
  async startTransientUnit(name: string, properties: [string, DBusVariant][], mode = 'fail'): Promise<string> {
    return String((await this.call('StartTransientUnit', 'ssa(sv)a(sa(sv))', [name, mode, properties, []]))[0]);
  }

  async stopUnit(name: string, mode = 'replace'): Promise<string> { return String((await this.call('StopUnit', 'ss', [name, mode]))[0]); }
  /** KillUnit(name, who: main|control|all, signal number). */
  async killUnit(name: string, who: 'main' | 'all', signal: number): Promise<void> { await this.call('KillUnit', 'ssi', [name, who, signal]); }
  async resetFailedUnit(name: string): Promise<void> { await this.call('ResetFailedUnit', 's', [name]); }

  /** The unit's object path, or null when systemd has no such unit loaded. */
  async unitPath(name: string): Promise<string | null> {
    try {
      const p = String((await this.call('GetUnit', 's', [name]))[0]);
      this.paths.set(p, name);
      return p;
    } catch (e) {
      // systemd says NoSuchUnit; python-dbusmock's template raises a KeyError.
      if (e instanceof BusError && /NoSuchUnit|KeyError|no such unit|not loaded/i.test(`${e.type} ${e.message}`)) return null;
      throw e;
    }
  }

  /** The unit's state, read now (after a reconnect, say), or null when it is not loaded. */
  async unit(name: string): Promise<UnitSnapshot | null> {
    const path = await this.unitPath(name);
    if (!path) return null;
    const u = unwrapAll(((await this.call('GetAll', 's', [UNIT], { path, iface: PROPS }))[0] ?? {}) as Record<string, unknown>);
    // A unit that is not a service (or a mock that never set these) has no Service properties.
    const s = unwrapAll(((await this.call('GetAll', 's', [SERVICE], { path, iface: PROPS }).catch(() => [{}]))[0] ?? {}) as Record<string, unknown>);
    return {
      unit: name, path, activeState: str(u.ActiveState) ?? 'unknown', subState: str(u.SubState) ?? '', description: str(u.Description),
      result: str(s.Result), mainPid: num(s.MainPID) || null, execMainCode: num(s.ExecMainCode), execMainStatus: num(s.ExecMainStatus),
    };
  }

  /** Forgets a unit's path (it was removed): a later GetUnit learns the new one. */
  forget(name: string): void { for (const [p, n] of this.paths) if (n === name) this.paths.delete(p); }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const bus = this.bus;
    this.bus = null;
    try { bus?.disconnect(); } catch { /* gone */ }
    this.setHealth('closed');
  }
}

/** The transient-unit properties in D-Bus form; `t` values (µs) as bigint, as dbus-next wants them. */
export const prop = {
  s: (k: string, v: string): [string, DBusVariant] => [k, new Variant('s', v)],
  b: (k: string, v: boolean): [string, DBusVariant] => [k, new Variant('b', v)],
  t: (k: string, v: number): [string, DBusVariant] => [k, new Variant('t', BigInt(Math.round(v)))],
  as: (k: string, v: string[]): [string, DBusVariant] => [k, new Variant('as', v)],
  exec: (k: string, argv: string[]): [string, DBusVariant] => [k, new Variant('a(sasb)', [[argv[0]!, argv, false]])],
  pairs: (k: string, v: [string, string][]): [string, DBusVariant] => [k, new Variant('a(ss)', v)],
};
