import test from 'ava';
import { NspawnRuntime } from '../../controller/runtime/nspawn.ts';
import { createAgents, startServer, type TestServer } from '../helpers/server.ts';
import { startSystemdMock, systemdMockUnavailable, type SystemdMock } from '../helpers/systemd-mock.ts';
import { waitFor } from '../helpers/wait.ts';
import { freePort } from '../helpers/cli-server.ts';

// `--runtime nspawn --systemd on` against a real dbus-daemon with python-dbusmock's systemd template
// as the system bus (DBUS_SYSTEM_BUS_ADDRESS points at it, as it would at systemd's): agents are
// transient units started over D-Bus, their failures come back as signals. The mock runs no process,
// so what runs inside is not checked here (runtime-nspawn and nspawn-serve do that with --systemd off).

const skip = systemdMockUnavailable() ?? NspawnRuntime.unavailable();
const it = skip ? test.skip : test.serial;
if (skip) test('dbus: transient-unit tests skipped', (t) => { t.log(`skipped: ${skip}`); t.pass(); });

let mock: SystemdMock;
test.before(async () => {
  if (skip) return;
  mock = await startSystemdMock();
  process.env.DBUS_SYSTEM_BUS_ADDRESS = mock.address;
});
test.after.always(async () => { await mock?.close(); });

const unit = (name: string) => `hyperhive-agent-${name}.service`;
const starts = async (name: string) => (await mock.calls('StartTransientUnit')).filter((c) => c.args[0] === unit(name)).length;

async function server(t: import('ava').ExecutionContext, o: Parameters<typeof startServer>[0] = {}): Promise<TestServer> {
  const s = await startServer({ prefix: 'hh-dbus-state-', runtime: 'nspawn', systemd: 'on', nspawn: { minBackoffMs: 50, maxBackoffMs: 400, nixos: false }, ...o });
  t.teardown(() => s.close());
  return s;
}
const agentOf = async (s: TestServer, name: string) => (await s.api('GET', `/api/agents/${name}`)).body;
const runningOn = (s: TestServer, name: string) => waitFor(`${name} running`, async () => { const a = await agentOf(s, name); return a.runtime.state === 'running' && a; }, 30_000);

it('agents start as transient units hyperhive-agent-<name>.service with the properties NixOS gives its containers', async (t) => {
  const s = await server(t);
  await createAgents(s, ['alpha']);
  const a = await runningOn(s, 'alpha');
  t.is(a.runtime.kind, 'nspawn');
  t.true(a.runtime.isolated);
  // The runtime says running once its start is under way; the call reaches the bus a moment later.
  await waitFor('the StartTransientUnit call on the bus', async () => (await starts('alpha')) >= 1, 20_000);
  const p = await mock.transientProperties(unit('alpha'));
  t.like(p, { KillMode: 'mixed', Delegate: true, Slice: 'machine.slice', Type: 'notify', Restart: 'no', DevicePolicy: 'closed' });
  t.deepEqual(p.DeviceAllow, [['/dev/net/tun', 'rwm'], ['char-pts', 'rw']]);
  t.regex(String(p.Description), /hyperhive agent alpha at [0-9a-f]{7}/);
  t.regex(String(p.StandardOutputFileToAppend), /agents\/alpha\/runtime\.log$/);
  const [[bin, argv]] = p.ExecStart as [string, string[], boolean][];
  t.is(bin, 'systemd-nspawn');
  for (const flag of ['--keep-unit', '--register=no', '--private-users=pick', '--private-users-ownership=chown', '--machine=hyperhive-alpha', '--as-pid2']) t.true(argv.includes(flag), flag);
  t.true(argv.includes(`--bind-ro=${s.state}/agents/alpha/config:/hyperhive/config:idmap`), 'config read-only at the Contract path');
  t.true(argv.includes(`--bind=${s.state}/agents/alpha/state:/hyperhive/state`));
  t.true(argv.includes(`--bind-ro=${s.state}/agents/alpha/token:/hyperhive/token:idmap`));
  for (const env of [`HYPERHIVE_URL=${s.url}`, 'HYPERHIVE_AGENT=alpha', 'HYPERHIVE_CONFIG_DIR=/hyperhive/config', 'HYPERHIVE_STATE_DIR=/hyperhive/state', 'HYPERHIVE_TOKEN_FILE=/hyperhive/token', 'HYPERHIVE_ORPHAN_TIMEOUT_MS=600000']) {
    t.true(argv.includes(`--setenv=${env}`), env);
  }
  const rt = (await s.api('GET', '/api/runtime')).body;
  t.like(rt, { kind: 'nspawn', isolated: true, systemd: true, watcher: { state: 'connected', address: mock.address } });
});

it('a unit going failed: a message in the manager\'s inbox (agent, unit, result, exit status, time), a log row, and the unit is started again', async (t) => {
  const s = await server(t);
  await createAgents(s, ['manager', 'bravo']);
  await runningOn(s, 'bravo');
  t.is(await starts('bravo'), 1);
  const before = Date.now();
  await mock.failUnit(unit('bravo'), 'exit-code', 1);
  const msg = await waitFor('the crash message to the manager', () => s.bus.list({ recipient: 'manager', from: 'system' }).find((m) => m.body.includes(unit('bravo'))), 20_000);
  t.regex(msg.body, /agent bravo crashed, unit hyperhive-agent-bravo\.service, result exit-code, exit status 1, at \d{4}-\d\d-\d\dT[\d:.]+Z, revision [0-9a-f]{7}/);
  t.true(Date.parse(/at (\S+),/.exec(msg.body)![1]!) >= before - 1000, 'the time of the crash');
  await waitFor('the unit started again', async () => (await starts('bravo')) === 2 && (await mock.activeState(unit('bravo'))) === 'active', 20_000);
  await runningOn(s, 'bravo');
  const rows = (await s.api('GET', '/api/log?agent=bravo')).body as { event: string; data: Record<string, unknown> }[];
  const crash = rows.find((r) => r.event === 'runtime-crashed');
  t.like(crash?.data, { unit: unit('bravo'), result: 'exit-code', code: 1 });
  t.true((await mock.calls('ResetFailedUnit')).some((c) => c.args[0] === unit('bravo')), 'the failed unit was reset before its new start');
});

it('N failures within the window: the agent is Stalled/CrashLoop', async (t) => {
  const s = await server(t, { crashLoop: { crashes: 3, windowMs: 120_000 } });
  await createAgents(s, ['charlie']);
  await runningOn(s, 'charlie');
  for (let i = 1; i <= 3; i++) {
    await mock.failUnit(unit('charlie'), 'signal', 9, 2);
    await waitFor(`start ${i + 1}`, async () => (await starts('charlie')) === i + 1, 20_000);
  }
  const stalled = await waitFor('Stalled/CrashLoop', async () => (await agentOf(s, 'charlie')).conditions.find((c: { type: string; reason: string }) => c.type === 'Stalled' && c.reason === 'CrashLoop'), 20_000);
  t.is(stalled.status, 'True');
  // At least the three failures made here (once in CI under load a fourth was counted: see TODO.md).
  const n = Number(/crashed (\d+) times in 2 min/.exec(stalled.message)?.[1]);
  t.true(n >= 3, stalled.message);
});

it('the watcher reconnects when the bus goes away: the dashboard shows it, and units gone meanwhile are started again', async (t) => {
  const s = await server(t);
  await createAgents(s, ['delta']);
  await runningOn(s, 'delta');
  await mock.stopBus();
  await waitFor('the watcher disconnected', async () => (await s.api('GET', '/api/runtime')).body.watcher.state !== 'connected', 20_000);
  const page = await fetch(`${s.url}/`, { headers: { authorization: `Bearer ${s.token}`, accept: 'text/html' } }).then((r) => r.text());
  t.regex(page, /D-Bus watcher <span class="hh-status hh-watch-(disconnected|connecting)"/);
  // The bus comes back before its systemd does: the watcher connects to a bus where the unit cannot
  // be read yet, and must read it again once systemd is there.
  const connected = async () => { const b = (await s.api('GET', '/api/runtime')).body; return b.watcher.state === 'connected' && b; };
  await mock.startBus({ beforeSystemd: async () => { await waitFor('the watcher connected to the bus without systemd', connected, 30_000); } });
  const h = await waitFor('the watcher connected again', connected, 30_000);
  t.true(h.watcher.reconnects >= 1);
  // The new bus's systemd knows no such unit: it went away with the old one, so it is started again.
  await waitFor('the unit started on the new bus', async () => (await starts('delta')) >= 1 && (await mock.activeState(unit('delta'))) === 'active', 30_000);
  await runningOn(s, 'delta');
  const log = (await s.api('GET', '/api/log')).body as { event: string; message: string }[];
  t.true(log.some((e) => e.event === 'runtime-watcher' && /disconnected/.test(e.message)));
});

it('units survive a controller restart and are taken over, not started again', async (t) => {
  // The same URL for both controllers: an agent started for another URL is restarted, not taken over.
  const listen = `127.0.0.1:${await freePort()}`;
  const s1 = await server(t, { listen });
  await createAgents(s1, ['echo']);
  await runningOn(s1, 'echo');
  const n = await starts('echo');
  await s1.close({ keepState: true });
  t.is(await mock.activeState(unit('echo')), 'active', 'the unit runs on without its controller');
  t.false((await mock.calls('StopUnit')).some((c) => c.args[0] === unit('echo')), 'closing the controller stops no unit');
  const s2 = await server(t, { state: s1.state, listen });
  await runningOn(s2, 'echo');
  await waitFor('taken over', async () => ((await s2.api('GET', '/api/log?agent=echo')).body as { event: string }[]).some((e) => e.event === 'runtime-adopted'), 20_000);
  t.is(await starts('echo'), n, 'no new start');
  // A stop now goes through systemd.
  await s2.core.runtime.stop('echo');
  t.true((await mock.calls('StopUnit')).some((c) => c.args[0] === unit('echo')));
  t.is(await mock.activeState(unit('echo')), 'inactive');
});
