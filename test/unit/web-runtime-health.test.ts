import test from 'ava';
import { toSse } from '../../web/app.ts';
import { runtimeSection } from '../../web/views/runtime-health.ts';

// The dashboard's Runtime section: which runtime(s) agents run on and the D-Bus watcher's health,
// untrusted text (an error from the bus) escaped; the live update that refreshes it.

const NOW = Date.UTC(2026, 11, 1, 12, 0, 0);

test('nspawn with units: the watcher state, address, since when, reconnects, and why not connected (escaped)', (t) => {
  const h = runtimeSection({
    kind: 'nspawn', isolated: true, systemd: true, note: 'n',
    watcher: { state: 'disconnected', address: 'unix:path=/run/dbus/system_bus_socket', since: NOW - 90_000, lastError: '<b>ECONNREFUSED</b>', reconnects: 2, signals: 7 },
  }, NOW).value;
  t.regex(h, /<section class="hh-section" id="runtime" data-live>/);
  t.regex(h, /<strong>nspawn<\/strong> — transient systemd units/);
  t.regex(h, /D-Bus watcher <span class="hh-status hh-watch-disconnected" data-testid="watcher-state">disconnected<\/span>/);
  t.regex(h, /unix:path=\/run\/dbus\/system_bus_socket/);
  t.regex(h, /2 reconnects/);
  t.regex(h, /&lt;b&gt;ECONNREFUSED&lt;\/b&gt;/);
  t.notRegex(h, /<b>ECONNREFUSED/);
  t.notRegex(h, /not isolated/);
});

test('process (with an nspawn backend beside it): not isolated is said; no watcher line without one', (t) => {
  const h = runtimeSection({
    kind: 'process', isolated: false, systemd: false, note: 'isolates nothing', watcher: null,
    backends: [{ kind: 'nspawn', isolated: true, systemd: false, note: 'x', watcher: null }],
  }, NOW).value;
  t.regex(h, /<strong>process<\/strong> — local child processes <span class="hh-tag hh-tag-warn" title="isolates nothing">not isolated<\/span>/);
  t.regex(h, /<strong>nspawn<\/strong> — supervised by the controller/);
  t.notRegex(h, /D-Bus watcher/);
  t.is(runtimeSection(undefined, NOW).value, '');
});

test('a watcher change reaches the page as a runtime SSE event, which refreshes its live sections', (t) => {
  t.deepEqual(toSse({ type: 'runtime.health', health: { kind: 'nspawn', isolated: true, systemd: true, note: '', watcher: { state: 'connected', address: 'a', since: 0, lastError: null, reconnects: 1, signals: 0 } } }),
    ['runtime', { agent: null, type: 'health', state: 'connected' }]);
});
