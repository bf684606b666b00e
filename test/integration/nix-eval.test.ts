import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { renderAgentFlake } from '../../controller/runtime/nix-build.ts';
import { PROJECT_ROOT, tmpDir } from '../helpers/paths.ts';

// nix/module.nix, nix/container.nix, nix/package.nix, flake.nix and the rendered agent flake,
// evaluated with nixpkgs' lib (lib.evalModules; the NixOS options they set declared in
// test/fixtures/nix/nixos-options.nix): a type error, a wrong option path or a missing Contract
// variable fails here rather than in an operator's nixos-rebuild. No build runs.

const LIB = process.env.HYPERHIVE_NIXPKGS_LIB ?? path.resolve(PROJECT_ROOT, '..', 'shared', 'nixpkgs-lib');
const NIX = ['/usr/bin/nix-instantiate', ...(process.env.PATH ?? '').split(':').map((d) => path.join(d, 'nix-instantiate'))].find((p) => fs.existsSync(p));
const skip = !NIX ? 'nix-instantiate is not installed (apt-get install nix-bin)' : !fs.existsSync(path.join(LIB, 'lib', 'default.nix')) ? `nixpkgs' lib is not at ${LIB} (set HYPERHIVE_NIXPKGS_LIB)` : null;
const it = skip ? test.skip : test;
if (skip) test('nix evaluation: skipped', (t) => { t.log(`skipped: ${skip}`); t.pass(); });

function evaluate(c: string, extra: Record<string, string> = {}): { ok: true; value: any } | { ok: false; error: string } {
  const args = ['--eval', '--strict', '--json', path.join(PROJECT_ROOT, 'test', 'fixtures', 'nix', 'eval.nix'), '--argstr', 'lib', LIB, '--argstr', 'root', PROJECT_ROOT, '--argstr', 'case', c];
  for (const [k, v] of Object.entries(extra)) args.push('--argstr', k, v);
  const r = spawnSync(NIX!, args, { encoding: 'utf8', timeout: 120_000 });
  return r.status === 0 ? { ok: true, value: JSON.parse(r.stdout) } : { ok: false, error: r.stderr };
}
const value = (c: string, extra?: Record<string, string>) => {
  const r = evaluate(c, extra);
  if (!r.ok) throw new Error(`evaluating ${c} failed:\n${r.error}`);
  return r.value;
};

it('services.hyperhive by default: nspawn with transient units, its state dir, on loopback; hardened as far as nspawn allows', (t) => {
  const u = value('module-default');
  t.is(u.serviceConfig.ExecStart, "/nix/store/00000000000000000000000000000000-hyperhive/bin/hyperhive serve --state /var/lib/hyperhive --listen 127.0.0.1:8000 --runtime nspawn --systemd on");
  t.deepEqual(u.wantedBy, ['multi-user.target']);
  t.true(u.after.includes('dbus.service'));
  t.like(u.serviceConfig, { User: 'root', StateDirectory: 'hyperhive', StateDirectoryMode: '0700', ProtectSystem: 'full', ProtectHome: true, PrivateTmp: true, NoNewPrivileges: false, Delegate: false, KillSignal: 'SIGTERM', Restart: 'on-failure' });
  t.deepEqual(u.serviceConfig.ExecStartPre, []);
  t.like(u.environment, { HYPERHIVE_FLAKE: 'path:/nix/store/11111111111111111111111111111111-source', HYPERHIVE_NSPAWN_NIXOS: '1' });
  t.true(u.path.some((p: string) => /-systemd$/.test(p)), 'systemd-nspawn on its PATH');
  const p = value('module-default-polkit');
  t.true(p.enable);
  t.regex(p.rule, /org\.freedesktop\.systemd1\.manage-units/);
  t.regex(p.rule, /subject\.user == "root"/);
  t.regex(p.rule, /indexOf\("hyperhive-agent-"\) == 0/);
  t.deepEqual(p.users, [], 'no user of its own: nspawn needs root');
});

it('services.hyperhive with the process runtime: a user of its own, strict hardening, the operator token installed, extra environment', (t) => {
  const { unit: u, users, polkit } = value('module-process');
  t.is(u.serviceConfig.ExecStart, '/nix/store/00000000000000000000000000000000-hyperhive/bin/hyperhive serve --state /srv/hyperhive --listen 0.0.0.0:9000 --runtime process --systemd off --public-url http://10.0.0.1:9000');
  t.like(u.serviceConfig, { User: 'hyperhive', ProtectSystem: 'strict', NoNewPrivileges: true, ProtectKernelTunables: true, Delegate: false });
  t.deepEqual(u.serviceConfig.ReadWritePaths, ['/srv/hyperhive']);
  t.false('StateDirectory' in u.serviceConfig, 'a custom state dir is not a StateDirectory');
  t.deepEqual(u.serviceConfig.ExecStartPre, ["+/nix/store/00000000000000000000000000000000-coreutils/bin/install -m 0600 -D -T /run/secrets/hyperhive-token /srv/hyperhive/operator.token"]);
  t.is(u.environment.HYPERHIVE_ORPHAN_TIMEOUT_MS, '300000');
  t.false('HYPERHIVE_NSPAWN_NIXOS' in u.environment);
  t.like(users.hyperhive, { isSystemUser: true, group: 'hyperhive', home: '/srv/hyperhive' });
  t.false(polkit);
});

it('services.hyperhive refuses what NixOS would: an operator token in the store, an unknown runtime', (t) => {
  const store = evaluate('module-token-in-store');
  t.false(store.ok);
  t.regex((store as { error: string }).error, /operatorTokenFile must not be in the Nix store/);
  const bad = evaluate('module-bad-runtime');
  t.false(bad.ok);
  t.regex((bad as { error: string }).error, /services\.hyperhive\.runtime' is not of type `one of "process", "nspawn"'/);
  t.deepEqual(value('module-disabled'), [], 'nothing without enable');
  // The declared NixOS options catch a wrong path, as nixos-rebuild would.
  const wrong = evaluate('wrong-option-path');
  t.false(wrong.ok);
  t.regex((wrong as { error: string }).error, /The option `systemd\.service' does not exist/);
});

it("container.nix: the harness service with the whole Contract environment, the agent's surface from agent.nix, a container", (t) => {
  const c = value('container');
  t.true(c.isContainer);
  t.is(c.hostName, 'hyperhive-worker');
  t.deepEqual(c.unit.environment, {
    HYPERHIVE_AGENT: 'worker', HYPERHIVE_URL: 'http://127.0.0.1:8000', HYPERHIVE_TOKEN_FILE: '/hyperhive/token', HYPERHIVE_CONFIG_DIR: '/hyperhive/config',
    HYPERHIVE_STATE_DIR: '/hyperhive/state', HYPERHIVE_ORPHAN_TIMEOUT_MS: '600000', HYPERHIVE_AGENT_CLI: 'claude', HOME: '/hyperhive/state',
  });
  t.is(c.unit.serviceConfig.ExecStart, '/nix/store/00000000000000000000000000000000-hyperhive/bin/hyperhive harness');
  t.like(c.unit.serviceConfig, { User: 'root', WorkingDirectory: '/hyperhive/state', Restart: 'no', SuccessAction: 'exit', FailureAction: 'exit' });
  t.deepEqual(c.unit.unitConfig.RequiresMountsFor, ['/hyperhive/state', '/hyperhive/config']);
  t.regex(c.unit.description, /for agent worker at 0123456/);
  t.deepEqual(c.surface, JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'templates', 'agent', 'hyperhive.json'), 'utf8')), "agent.nix's hyperhive set is hyperhive.json");
  t.true(c.packages.includes('hyperhive') && c.packages.includes('git'));
  t.is(value('container-user').unit.serviceConfig.User, 'agent');
  const missing = evaluate('container-missing-url');
  t.false(missing.ok);
  t.regex((missing as { error: string }).error, /lacks HYPERHIVE_URL/);
});

it('nix/package.nix builds from package-lock.json with importNpmLock: no hash computed online', (t) => {
  const p = value('package');
  t.is(p.pname, 'hyperhive');
  t.is(p.version, JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')).version);
  t.is(p.npmDeps.npmRoot, path.resolve(PROJECT_ROOT));
  t.is(p.hook, 'npm-config-hook');
  t.false(p.hasHash, 'no npmDepsHash');
  t.true(p.dontNpmBuild);
  t.regex(p.installPhase, /bin\/hyperhive\.mjs/);
  t.regex(p.installPhase, /\$out\/bin\/claude/);
  t.is(p.mainProgram, 'hyperhive');
});

it('flake.nix: packages.default, nixosModules.default, lib.agentSystem, a devShell, a NixOS VM test in checks', (t) => {
  const f = value('flake');
  t.true(f.defaultIsHyperhive);
  t.regex(f.package.fn, /nix\/package\.nix$/);
  t.deepEqual(f.package.calledWith, ['src']);
  t.deepEqual(f.modules.sort(), ['default', 'hyperhive']);
  t.true(f.moduleIsFunction);
  t.deepEqual(f.lib.sort(), ['agentContainer', 'agentSystem']);
  t.true(f.devShell.shellPackages.includes('nodejs') && f.devShell.shellPackages.includes('python-dbusmock'));
  t.is(f.check.name, 'hyperhive');
  t.like(f.check.hyperhive, { enable: true, runtime: 'nspawn', systemd: 'on' });
  t.regex(f.check.testScript, /wait_for_unit\("hyperhive\.service"\)/);
  t.regex(f.check.testScript, /hyperhive-agent-worker\.service/);
});

it('the flake the controller renders for an agent revision evaluates to its container system', async (t) => {
  const dir = tmpDir('hh-agent-flake-');
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  await renderAgentFlake(path.join(dir, 'flake'), path.join(PROJECT_ROOT, 'templates', 'agent'), {
    agent: 'worker', revision: 'abcdef0123456789abcdef0123456789abcdef01', hyperhiveFlake: `path:${PROJECT_ROOT}`, system: 'x86_64-linux',
    contract: { HYPERHIVE_AGENT: 'worker', HYPERHIVE_URL: 'http://127.0.0.1:8123', HYPERHIVE_TOKEN_FILE: '/hyperhive/token', HYPERHIVE_CONFIG_DIR: '/hyperhive/config', HYPERHIVE_STATE_DIR: '/hyperhive/state', HYPERHIVE_ORPHAN_TIMEOUT_MS: '600000' },
  });
  const r = value('agent-flake', { agentFlake: path.join(dir, 'flake') });
  t.is(r.system, 'x86_64-linux');
  t.is(r.unit.environment.HYPERHIVE_URL, 'http://127.0.0.1:8123');
  t.regex(r.unit.description, /worker at abcdef0/);
  t.deepEqual(r.surface.tools.allow.slice(0, 2), ['Read', 'Edit']);
});
