import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exitOf } from '../../controller/runtime/nspawn-units.ts';
import { argvHash, nspawnArgv, unitName, type NspawnPlan } from '../../controller/runtime/nspawn-argv.ts';
import { chooseRange, chownTree, defaultHostDirs, ensureRootfs, rootfsRange } from '../../controller/runtime/rootfs.ts';
import { nspawnOptionsFromEnv } from '../../controller/runtime/from-env.ts';
import { withContainerTargets } from '../../controller/runtime/nspawn.ts';
import { createRuntime, systemdMode } from '../../controller/runtime/index.ts';
import { contractEnv, type AgentSpec } from '../../controller/runtime/types.ts';
import { validateHyperhiveJson } from '../../controller/surface/hyperhive-json.ts';
import { crashLoopFromEnv } from '../../controller/serve.ts';
import { endedText } from '../../controller/mcp/notify.ts';

const plan = (o: Partial<NspawnPlan> = {}): NspawnPlan => ({
  machine: 'hyperhive-w', rootfs: '/s/agents/w/rootfs',
  mounts: [
    { source: '/s/agents/w/config', target: '/hyperhive/config', readOnly: true, idmap: true },
    { source: '/s/agents/w/state', target: '/hyperhive/state', readOnly: false },
    { source: '/s/agents/w/token', target: '/hyperhive/token', readOnly: true, idmap: true },
  ],
  hostDirs: ['/usr', '/etc/ssl'], env: { HYPERHIVE_AGENT: 'w', A: 'b c' }, cwd: '/hyperhive/state',
  mode: 'plain', command: ['/usr/bin/node', 'harness'], extraArgs: [], notify: false, ...o,
});

test('nspawnArgv: unprivileged, unregistered, the binds and environment in order, the command after --', (t) => {
  t.deepEqual(nspawnArgv(plan()), [
    'systemd-nspawn', '--quiet', '--register=no', '--keep-unit', '--machine=hyperhive-w', '--private-users=pick', '--private-users-ownership=chown',
    '--kill-signal=SIGRTMIN+3', '--console=pipe', '--directory=/s/agents/w/rootfs',
    '--bind-ro=/usr', '--bind-ro=/etc/ssl',
    '--bind-ro=/s/agents/w/config:/hyperhive/config:idmap', '--bind=/s/agents/w/state:/hyperhive/state', '--bind-ro=/s/agents/w/token:/hyperhive/token:idmap',
    '--setenv=HYPERHIVE_AGENT=w', '--setenv=A=b c', '--chdir=/hyperhive/state', '--as-pid2', '--', '/usr/bin/node', 'harness',
  ]);
});

test('nspawnArgv on NixOS: the system init as PID 1 (no --as-pid2), readiness from it under a unit; extras before the command', (t) => {
  const argv = nspawnArgv(plan({ mode: 'nixos', command: ['/nix/store/x-system/init'], notify: true, extraArgs: ['--private-network'] }), '/usr/bin/systemd-nspawn');
  t.is(argv[0], '/usr/bin/systemd-nspawn');
  t.false(argv.includes('--as-pid2'));
  t.true(argv.includes('--notify-ready=yes'));
  t.deepEqual(argv.slice(-3), ['--private-network', '--', '/nix/store/x-system/init']);
  t.is(unitName('w'), 'hyperhive-agent-w.service');
  t.not(argvHash(argv), argvHash(nspawnArgv(plan())));
  t.is(argvHash(argv), argvHash([...argv]));
});

test('a bind whose source is its target, idmapped, repeats the path before the option', (t) => {
  const argv = nspawnArgv(plan({ mounts: [{ source: '/a/token', target: '/a/token', readOnly: true, idmap: true }] }));
  t.true(argv.includes('--bind-ro=/a/token:/a/token:idmap'));
});

test('withContainerTargets: the Contract paths inside, the host paths kept as sources', (t) => {
  const m = (p: string, readOnly: boolean) => ({ source: p, target: p, readOnly });
  const spec: AgentSpec = { name: 'w', repo: '/r', mounts: { config: m('/s/c', true), state: m('/s/s', false), token: m('/s/t', true) }, env: {}, controllerUrl: 'http://127.0.0.1:8000', command: [], workingClone: true };
  const c = withContainerTargets(spec);
  t.deepEqual(contractEnv(c), { HYPERHIVE_AGENT: 'w', HYPERHIVE_URL: 'http://127.0.0.1:8000', HYPERHIVE_TOKEN_FILE: '/hyperhive/token', HYPERHIVE_CONFIG_DIR: '/hyperhive/config', HYPERHIVE_STATE_DIR: '/hyperhive/state' });
  t.is(c.mounts.state.source, '/s/s');
});

test('uid ranges: stable per rootfs, past ranges taken, read back from the rootfs owner', (t) => {
  const a = chooseRange('/s/agents/a/rootfs', new Set());
  t.is(a % 65536, 0);
  t.true(a >= 524288 && a <= 0x6fff0000);
  t.is(chooseRange('/s/agents/a/rootfs', new Set()), a, 'the same path, the same range');
  t.not(chooseRange('/s/agents/a/rootfs', new Set([a])), a, 'a taken range is skipped');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hh-rootfs-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  t.is(rootfsRange(dir), null, 'a root-owned dir is no range');
  if (process.getuid?.() === 0) {
    fs.mkdirSync(path.join(dir, 'x'));
    chownTree(dir, a);
    t.is(rootfsRange(dir), a);
    t.is(fs.statSync(path.join(dir, 'x')).uid, a);
  }
});

test('ensureRootfs: mount points, the host\'s relative links as links, the few /etc files; idempotent', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hh-rootfs-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const host = fs.mkdtempSync(path.join(os.tmpdir(), 'hh-host-'));
  t.teardown(() => fs.rmSync(host, { recursive: true, force: true }));
  fs.mkdirSync(path.join(host, 'usr'));
  fs.symlinkSync('usr/bin', path.join(host, 'bin'));
  const binds = ensureRootfs(path.join(dir, 'root'), [path.join(host, 'usr'), path.join(host, 'bin'), path.join(host, 'absent')]);
  t.deepEqual(binds, [path.join(host, 'usr')]);
  const root = path.join(dir, 'root');
  t.is(fs.readlinkSync(path.join(root, host, 'bin')), 'usr/bin');
  for (const f of ['usr', 'tmp', 'etc/os-release', 'etc/passwd', 'etc/group', 'etc/hosts']) t.true(fs.existsSync(path.join(root, f)), f);
  t.is(fs.statSync(path.join(root, 'tmp')).mode & 0o7777, 0o1777);
  t.notThrows(() => ensureRootfs(root, [path.join(host, 'bin')]), 'a second run over a dangling link is fine');
  t.deepEqual(defaultHostDirs(true), ['/nix/store']);
  t.true(defaultHostDirs(false, (p) => p === '/usr').includes('/usr'));
});

test('exitOf: systemd\'s Service properties as an exit: status, signal, result', (t) => {
  const snap = (o: object) => ({ unit: 'u', path: '/p', activeState: 'failed', subState: 'failed', result: 'exit-code', mainPid: null, execMainCode: 1, execMainStatus: 3, description: null, ...o });
  t.deepEqual(exitOf(snap({}), 'u', 'x'), { code: 3, signal: null, unit: 'u', result: 'exit-code' });
  t.deepEqual(exitOf(snap({ result: 'signal', execMainCode: 2, execMainStatus: 9 }), 'u', 'x'), { code: null, signal: 'SIGKILL', unit: 'u', result: 'signal' });
  t.deepEqual(exitOf(null, 'u', 'gone'), { code: null, signal: null, unit: 'u', result: 'gone' });
});

test('hyperhive.json "runtime": process or nspawn, anything else refused with the choices', (t) => {
  t.is(validateHyperhiveJson({ runtime: 'nspawn' }).runtime, 'nspawn');
  t.false('runtime' in validateHyperhiveJson({}), 'absent when not set');
  t.throws(() => validateHyperhiveJson({ runtime: 'docker' }), { message: /runtime: must be one of process, nspawn, got "docker"/ });
});

test('settings from the environment: nspawn dirs, arguments, NixOS; crash loop; each bad value named', (t) => {
  const o = nspawnOptionsFromEnv({ HYPERHIVE_NSPAWN_HOST_DIRS: '/usr:/opt/tools', HYPERHIVE_NSPAWN_ARGS: ' --private-network  --quiet ', HYPERHIVE_NSPAWN_NIXOS: '0', HYPERHIVE_FLAKE: 'path:/x' });
  t.deepEqual(o.hostDirs, ['/usr', '/opt/tools']);
  t.deepEqual(o.extraArgs, ['--private-network', '--quiet']);
  t.false(o.nixos);
  t.is(o.hyperhiveFlake, 'path:/x');
  t.deepEqual(nspawnOptionsFromEnv({}), {});
  t.throws(() => nspawnOptionsFromEnv({ HYPERHIVE_NSPAWN_HOST_DIRS: 'usr' }), { message: /HYPERHIVE_NSPAWN_HOST_DIRS must list absolute directories/ });
  t.throws(() => nspawnOptionsFromEnv({ HYPERHIVE_NSPAWN_NIXOS: 'yes' }), { message: /HYPERHIVE_NSPAWN_NIXOS must be 0 or 1/ });
  t.deepEqual(crashLoopFromEnv({}), { crashes: 5, windowMs: 600_000 });
  t.deepEqual(crashLoopFromEnv({ HYPERHIVE_CRASH_LOOP_CRASHES: '0', HYPERHIVE_CRASH_LOOP_WINDOW_MS: '1000' }), { crashes: 0, windowMs: 1000 });
  t.throws(() => crashLoopFromEnv({ HYPERHIVE_CRASH_LOOP_WINDOW_MS: '0' }), { message: /HYPERHIVE_CRASH_LOOP_WINDOW_MS must be a whole number of at least 1/ });
});

test('the crash message names agent, unit, result, exit status or signal, time and revision', (t) => {
  const at = Date.UTC(2026, 11, 1, 12, 0, 0);
  t.is(endedText('w', { type: 'crashed', agent: 'w', revision: 'a'.repeat(40), code: 1, signal: null, unit: 'hyperhive-agent-w.service', result: 'exit-code', at, message: 'x' }, 0),
    'agent w crashed, unit hyperhive-agent-w.service, result exit-code, exit status 1, at 2026-12-01T12:00:00.000Z, revision aaaaaaa. The runtime restarts it with backoff (x).');
  t.regex(endedText('w', { type: 'crashed', agent: 'w', revision: null, code: null, signal: 'SIGKILL', message: 'killed' }, at), /^agent w crashed, signal SIGKILL, at 2026-12-01T12:00:00\.000Z\./);
  t.is(endedText('w', { type: 'exited', agent: 'w', revision: null, code: 0, signal: null, message: 'done' }, at), 'agent w: done');
});

test('serve --runtime nspawn refuses to start on a host that cannot run containers, saying why', (t) => {
  const e = t.throws(() => createRuntime({ kind: 'nspawn', systemd: 'off', nspawn: { binary: '/nonexistent/systemd-nspawn' } }));
  t.regex(e!.message, process.getuid?.() === 0 ? /--runtime nspawn: \/nonexistent\/systemd-nspawn is not installed \(Debian: apt-get install systemd-container\)/ : /--runtime nspawn: the nspawn runtime needs root/);
  t.is((e as { code?: string }).code, 'not_supported');
  t.is(systemdMode('auto', true), 'on');
  t.is(systemdMode('auto', false), 'off');
  t.is(systemdMode('off', true), 'off');
});
