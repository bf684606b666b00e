import anyTest from 'ava';
import path from 'node:path';
import { SystemdBus } from '../../controller/dbus/systemd.ts';
import { NspawnRuntime } from '../../controller/runtime/nspawn.ts';
import { tmpDir } from '../helpers/paths.ts';
import { startSystemdMock, systemdMockUnavailable, type SystemdMock } from '../helpers/systemd-mock.ts';
import { browserSuite, logIn } from './suite.ts';

// The dashboard's Runtime section in real Chromium: agents as transient units (nspawn, --systemd on)
// against a real dbus-daemon with python-dbusmock's systemd; when the bus goes away and comes back,
// the open page shows the watcher disconnected and connected again, live, without a reload.

const T = 60_000;
const why = systemdMockUnavailable() ?? NspawnRuntime.unavailable();
// The bus is handed to the runtime rather than put in DBUS_SYSTEM_BUS_ADDRESS: Chromium would use it
// too, and abort when it goes away (integration/dbus-units.test.ts checks the variable).
const socket = path.join(tmpDir('hh-runtime-e2e-bus-'), 'bus');
let mock: SystemdMock | null = null;
anyTest.serial.before(async () => {
  if (why) return;
  mock = await startSystemdMock({ socket });
});
anyTest.after.always(async () => { await mock?.close(); });
if (why) anyTest('runtime e2e: skipped', (t) => { t.log(`skipped: ${why}`); t.pass(); });

const { test: bt, e2e } = browserSuite('runtime e2e tests', {
  prefix: 'hh-runtime-e2e-', viewport: { width: 1300, height: 900 }, timeoutMs: T,
  // (Where the tests are skipped, a plain server: the nspawn runtime would refuse to start.)
  serve: why ? { agentCommand: 'idle' } : { agentCommand: 'idle', configCheck: false, runtime: 'nspawn', systemd: 'on', nspawn: { minBackoffMs: 50, nixos: false, bus: new SystemdBus({ address: `unix:path=${socket}` }) } },
  setup: async (t) => { t.is((await t.context.server.api('POST', '/api/agents', { name: 'worker' })).status, 201); },
});
const e2eIf = why ? bt.serial.skip : e2e;

e2eIf('the dashboard shows the D-Bus watcher\'s health and follows it live as the bus goes away and comes back', async (t) => {
  t.timeout(180_000);
  const { page, server } = t.context;
  await logIn({ page, server }, '/');
  const state = page.locator('#runtime [data-testid=watcher-state]');
  await page.waitForFunction(() => document.querySelector('#runtime [data-testid=watcher-state]')?.textContent === 'connected');
  t.regex(await page.textContent('#runtime') ?? '', /nspawn — transient systemd units · D-Bus watcher connected/);
  await page.locator('tr[data-agent=worker] .hh-rt-running').waitFor();
  t.is(await page.textContent('tr[data-agent=worker] .hh-tag'), 'nspawn');
  await mock!.stopBus();
  await page.waitForFunction(() => /disconnected|connecting/.test(document.querySelector('#runtime [data-testid=watcher-state]')?.textContent ?? ''));
  t.regex(await state.textContent() ?? '', /disconnected|connecting/);
  await mock!.startBus();
  await page.waitForFunction(() => document.querySelector('#runtime [data-testid=watcher-state]')?.textContent === 'connected');
  t.regex(await page.textContent('#runtime') ?? '', /1 reconnect/);
  t.deepEqual(t.context.errors, []);
});
