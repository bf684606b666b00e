import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import dbus from 'dbus-next';
import { tmpDir } from './paths.ts';
import { waitFor } from './wait.ts';

const { Message, Variant } = dbus;
const PYTHON = '/usr/bin/python3';
const MANAGER = 'org.freedesktop.systemd1.Manager';
const MOCK = 'org.freedesktop.DBus.Mock';

/** Why the D-Bus tests cannot run here (Debian: apt-get install dbus python3-dbusmock), or null. */
export function systemdMockUnavailable(): string | null {
  if (!fs.existsSync('/usr/bin/dbus-daemon')) return 'dbus-daemon is not installed (apt-get install dbus)';
  if (spawnSync(PYTHON, ['-c', 'import dbusmock'], { stdio: 'ignore' }).status !== 0) return `python3-dbusmock is not installed for ${PYTHON} (apt-get install python3-dbusmock)`;
  return null;
}

// python-dbusmock's systemd template records StartTransientUnit and nothing more; these make it act
// as systemd does for a transient service: the unit appears, active, with its Service properties,
// and its start job is removed with `done`. StopUnit, KillUnit and ResetFailedUnit move it as
// systemd would. MockFailUnit is the test's lever: the unit's main process "ends" with a result.
const PY_UNIT = `
def unit(self, name):
    if name not in self.units:
        path = '/org/freedesktop/systemd1/unit/' + name.replace('.', '_').replace('-', '_')
        self.units[name] = path
        self.AddObject(path, 'org.freedesktop.systemd1.Unit', {'Id': name, 'Names': [name], 'LoadState': 'loaded', 'ActiveState': 'inactive', 'SubState': 'dead', 'Description': ''}, [])
        objects[path].AddProperties('org.freedesktop.systemd1.Service', {'Result': 'success', 'ExecMainCode': dbus.Int32(0), 'ExecMainStatus': dbus.Int32(0), 'MainPID': dbus.UInt32(0)})
    return objects[self.units[name]]
def job(self, name, result='done'):
    self.next_job_id += 1
    p = '/org/freedesktop/systemd1/Job/%d' % self.next_job_id
    self.EmitSignal('org.freedesktop.systemd1.Manager', 'JobNew', 'uos', [dbus.UInt32(self.next_job_id), dbus.ObjectPath(p), name])
    self.EmitSignal('org.freedesktop.systemd1.Manager', 'JobRemoved', 'uoss', [dbus.UInt32(self.next_job_id), dbus.ObjectPath(p), name, result])
    return p
def move(u, active, sub, result=None, code=None, status=None):
    if result is not None:
        u.UpdateProperties('org.freedesktop.systemd1.Service', {'Result': result, 'ExecMainCode': dbus.Int32(code), 'ExecMainStatus': dbus.Int32(status)})
    u.UpdateProperties('org.freedesktop.systemd1.Unit', {'ActiveState': active, 'SubState': sub})
`;
const PY = (body: string) => `${PY_UNIT}\n${body}`;
const METHODS: [string, string, string, string][] = [
  ['StartTransientUnit', 'ssa(sv)a(sa(sv))', 'o', PY(`
name = str(args[0])
u = unit(self, name)
if u.props['org.freedesktop.systemd1.Unit']['ActiveState'] in ('active', 'activating'):
    raise dbus.exceptions.DBusException('Unit %s already exists.' % name, name='org.freedesktop.systemd1.UnitExists')
if u.props['org.freedesktop.systemd1.Unit']['ActiveState'] == 'failed':
    raise dbus.exceptions.DBusException('Unit %s was already loaded or has a fragment file.' % name, name='org.freedesktop.systemd1.UnitExists')
move(u, 'active', 'running', 'success', 0, 0)
ret = job(self, name)
`)],
  ['StopUnit', 'ss', 'o', PY(`
name = str(args[0])
u = unit(self, name)
move(u, 'inactive', 'dead', 'success', 1, 0)
ret = job(self, name)
`)],
  ['KillUnit', 'ssi', '', PY(`
u = unit(self, str(args[0]))
move(u, 'failed', 'failed', 'signal', 2, int(args[2]))
`)],
  ['ResetFailedUnit', 's', '', PY(`
name = str(args[0])
if name in self.units:
    u = objects[self.units[name]]
    if u.props['org.freedesktop.systemd1.Unit']['ActiveState'] == 'failed':
        move(u, 'inactive', 'dead')
`)],
  ['MockFailUnit', 'ssii', '', PY(`
u = unit(self, str(args[0]))
move(u, 'failed', 'failed', str(args[1]), int(args[2]), int(args[3]))
`)],
];

export interface SystemdMock {
  /** The bus address (point DBUS_SYSTEM_BUS_ADDRESS here). */
  address: string;
  /** Every call the mock answered, oldest first, with its arguments unwrapped. */
  calls(method?: string): Promise<{ method: string; args: unknown[] }[]>;
  /** The properties the unit's latest StartTransientUnit carried. */
  transientProperties(unit: string): Promise<Record<string, unknown>>;
  /** The unit's main process ends: result (`exit-code`, `signal`, …), CLD code (1 exited, 2 killed), status. */
  failUnit(unit: string, result: string, status: number, code?: number): Promise<void>;
  activeState(unit: string): Promise<string | null>;
  /** The bus and the mock go away (SIGKILL), as when the system bus restarts. */
  stopBus(): Promise<void>;
  /**
   * Starts both again at the same address: the new mock knows no units. `beforeSystemd` runs once
   * the bus is up and before systemd is on it (a bus that comes back before its systemd).
   */
  startBus(o?: { beforeSystemd?: () => Promise<void> }): Promise<void>;
  close(): Promise<void>;
}

const unwrap = (v: unknown): unknown => (v instanceof Variant ? unwrap(v.value) : Array.isArray(v) ? v.map(unwrap) : v);

/**
 * A real dbus-daemon with python-dbusmock's systemd template on it, playing the system bus: the
 * runtime under test connects through DBUS_SYSTEM_BUS_ADDRESS as it would to systemd.
 */
export async function startSystemdMock(o: { socket?: string } = {}): Promise<SystemdMock> {
  const dir = o.socket ? path.dirname(o.socket) : tmpDir('hh-dbus-');
  const socket = o.socket ?? path.join(dir, 'bus');
  const address = `unix:path=${socket}`;
  let daemon: ChildProcess | null = null;
  let mock: ChildProcess | null = null;
  let client: ReturnType<typeof dbus.sessionBus> | null = null;

  const up = async (beforeSystemd?: () => Promise<void>) => {
    daemon = spawn('/usr/bin/dbus-daemon', ['--session', '--nofork', `--address=${address}`, '--nopidfile'], { stdio: 'ignore' });
    await waitFor('the test bus socket', () => fs.existsSync(socket), 10_000);
    if (beforeSystemd) await beforeSystemd();
    mock = spawn(PYTHON, ['-m', 'dbusmock', '--session', '-t', 'systemd'], { env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: address }, stdio: ['ignore', 'ignore', 'inherit'] });
    client = dbus.sessionBus({ busAddress: address });
    client.on('error', () => undefined);
    const c = client;
    await waitFor('the systemd mock on the bus', async () => {
      const r = await c.call(new Message({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'NameHasOwner', signature: 's', body: ['org.freedesktop.systemd1'] }));
      return r?.body[0] === true;
    }, 20_000);
    for (const [name, inSig, outSig, code] of METHODS) await call(MOCK, 'AddMethod', 'sssss', [MANAGER, name, inSig, outSig, code]);
  };
  const call = async (iface: string, member: string, signature: string, body: unknown[], p = '/org/freedesktop/systemd1') => {
    const r = await client!.call(new Message({ destination: 'org.freedesktop.systemd1', path: p, interface: iface, member, signature, body }));
    return (r?.body ?? []) as unknown[];
  };
  const kill = async (p: ChildProcess | null) => {
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const done = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await done;
  };
  const down = async () => {
    try { client?.disconnect(); } catch { /* gone */ }
    client = null;
    await kill(mock);
    await kill(daemon);
    fs.rmSync(socket, { force: true });
  };
  await up();

  const calls = async (method?: string) => {
    const [list] = await call(MOCK, 'GetCalls', '', []);
    return (list as [unknown, string, unknown[]][]).map(([, m, args]) => ({ method: m, args: unwrap(args) as unknown[] })).filter((c) => !method || c.method === method);
  };
  return {
    address,
    calls,
    async transientProperties(unit) {
      const starts = (await calls("StartTransientUnit")).filter((c) => c.args[0] === unit);
      const last = starts.at(-1);
      if (!last) throw new Error(`no StartTransientUnit for ${unit}`);
      return Object.fromEntries((last.args[2] as [string, unknown][]).map(([k, v]) => [k, unwrap(v)]));
    },
    async failUnit(unit, result, status, code = 1) { await call(MANAGER, 'MockFailUnit', 'ssii', [unit, result, code, status]); },
    async activeState(unit) {
      try {
        const [p] = await call(MANAGER, 'GetUnit', 's', [unit]);
        const [v] = await call('org.freedesktop.DBus.Properties', 'Get', 'ss', ['org.freedesktop.systemd1.Unit', 'ActiveState'], String(p));
        return String(unwrap(v));
      } catch { return null; }
    },
    async stopBus() { await down(); },
    async startBus(o = {}) { await up(o.beforeSystemd); },
    async close() { await down(); fs.rmSync(dir, { recursive: true, force: true }); },
  };
}
