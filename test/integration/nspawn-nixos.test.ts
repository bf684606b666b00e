import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { commandBuilder, TOPLEVEL_ATTR } from '../../controller/runtime/nix-build.ts';
import { NspawnRuntime } from '../../controller/runtime/nspawn.ts';
import { defaultHostDirs } from '../../controller/runtime/rootfs.ts';
import { cmdlineOf } from '../../controller/runtime/procfs.ts';
import { pushByPath, repoOf } from '../helpers/git.ts';
import { PROJECT_ROOT, tmpDir } from '../helpers/paths.ts';
import { createAgents, startServer, type TestServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';

// The NixOS path of the nspawn runtime: every revision is built from the agent's rendered flake with
// `nix build` before its container starts, and the built system's init is the container's PID 1.
// No NixOS build can run here, so the builder is a command that records its argv and "builds" a
// system whose init runs the idle agent (a revision whose prompt says FAIL fails to build, with a
// log). Everything else is real: the rendered flake, systemd-nspawn, the reconciler, the API.

const skip = NspawnRuntime.unavailable();
const it = skip ? test.skip : test.serial;
if (skip) test('nspawn on NixOS: skipped', (t) => { t.log(`skipped: ${skip}`); t.pass(); });

const work = tmpDir('hh-nixos-');
const store = path.join(work, 'store');
const calls = path.join(work, 'calls');
const builderScript = path.join(work, 'nix');
fs.mkdirSync(store, { recursive: true });
fs.mkdirSync(calls, { recursive: true });
// A stand-in for `nix`: records its argv (one file per call, one argument a line), then builds or fails.
fs.writeFileSync(builderScript, `#!/bin/sh
n=$(ls "$CALLS" | wc -l)
printf '%s\\n' "$@" > "$CALLS/$(printf %04d "$n")"
ref=""; for a in "$@"; do case "$a" in path:*) ref="$a";; esac; done
dir=\${ref#path:}; dir=\${dir%%#*}
echo "evaluating derivation '$ref'" >&2
if grep -q FAIL "$dir/config/prompt.md"; then
  echo "building '/nix/store/0000-nixos-system-agent.drv'..." >&2
  echo "error: The option \\\`services.bogus' does not exist. Definition values:" >&2
  echo "       - In \\\`/nix/store/1111-source/config/agent.nix'" >&2
  exit 1
fi
out="$STORE/$(sha1sum "$dir/config/prompt.md" | cut -c1-32)-nixos-system-agent"
mkdir -p "$out"
cat > "$out/init" <<EOF
#!/bin/bash
# The system's init: runs the agent, and halts on SIGRTMIN+3 as systemd does.
${process.execPath} ${path.join(PROJECT_ROOT, 'controller', 'runtime', 'idle-agent.mjs')} & child=\\$!
trap 'kill -TERM \\$child; wait \\$child; exit 0' SIGRTMIN+3
wait \\$child
EOF
chmod +x "$out/init"
echo "$out"
`, { mode: 0o755 });

let s: TestServer;
test.before(async () => {
  if (skip) return;
  s = await startServer({
    prefix: 'hh-nixos-state-', runtime: 'nspawn', systemd: 'off',
    nspawn: {
      nixos: true, minBackoffMs: 100, maxBackoffMs: 1000, hyperhiveFlake: 'path:/srv/hyperhive',
      builder: commandBuilder([builderScript], { ...process.env, CALLS: calls, STORE: store }),
      // /nix/store on NixOS; here the host's software as well, since the stand-in init runs node from /usr.
      hostDirs: [...defaultHostDirs(false), store],
    },
  });
  await createAgents(s, ['worker']);
});
test.after.always(async () => { await s?.close(); fs.rmSync(work, { recursive: true, force: true }); });

const agent = async () => (await s.api('GET', '/api/agents/worker')).body;
const argvOf = (i: number) => fs.readFileSync(path.join(calls, fs.readdirSync(calls).sort()[i]!), 'utf8').trim().split('\n');

it('prepare is `nix build` of the agent\'s rendered flake; the container boots the built system\'s init', async (t) => {
  const a = await waitFor('worker running', async () => { const v = await agent(); return v.runtime.state === 'running' && v; }, 60_000);
  const flake = path.join(s.state, 'agents', 'worker', 'flake');
  t.deepEqual(argvOf(0), ['--extra-experimental-features', 'nix-command flakes', 'build', '--no-link', '--print-out-paths', '--no-write-lock-file', '-L', `path:${flake}#${TOPLEVEL_ATTR}`]);
  const text = fs.readFileSync(path.join(flake, 'flake.nix'), 'utf8');
  t.regex(text, /inputs\.hyperhive\.url = "path:\/srv\/hyperhive";/);
  t.regex(text, /name = "worker";/);
  t.regex(text, new RegExp(`revision = "${a.applied}";`));
  t.regex(text, /agentNix = \.\/config\/agent\.nix;/);
  t.true(fs.existsSync(path.join(flake, 'config', 'agent.nix')), "the revision's config beside it");
  const contract = JSON.parse(fs.readFileSync(path.join(flake, 'contract.json'), 'utf8'));
  t.like(contract, { HYPERHIVE_AGENT: 'worker', HYPERHIVE_URL: s.url, HYPERHIVE_CONFIG_DIR: '/hyperhive/config', HYPERHIVE_STATE_DIR: '/hyperhive/state', HYPERHIVE_TOKEN_FILE: '/hyperhive/token', HYPERHIVE_ORPHAN_TIMEOUT_MS: '600000' });
  const argv = cmdlineOf(a.runtime.pid)!;
  const init = argv.at(-1)!;
  t.true(init.startsWith(store) && init.endsWith('/init'), `the command is the built system's init (${init})`);
  t.false(argv.includes('--as-pid2'), 'the init is PID 1 itself');
  t.true(argv.includes(`--bind-ro=${store}`));
});

it('a build that fails: Stalled/BuildFailed with the build log\'s tail, and the old revision keeps running', async (t) => {
  const a0 = await waitFor('worker running', async () => { const v = await agent(); return v.runtime.state === 'running' && v; }, 60_000);
  const head = await pushByPath(repoOf(s.state, 'worker'), { 'prompt.md': 'FAIL on purpose\n' }, { message: 'a config that does not build' });
  const req = await waitFor('the request', async () => ((await s.api('GET', '/api/approvals?agent=worker')).body as { id: number; head: string }[]).find((r) => r.head === head), 30_000);
  t.is((await s.api('POST', `/api/approvals/${req.id}/approve`)).status, 200);
  const c = await waitFor('Stalled/BuildFailed', async () => (await agent()).conditions.find((x: { type: string; reason: string }) => x.type === 'Stalled' && x.reason === 'BuildFailed'), 60_000);
  t.regex(c.message, new RegExp(`building ${head.slice(0, 7)} failed: nix build of worker at ${head.slice(0, 7)} failed \\(exit 1\\)`));
  t.regex(c.message, new RegExp(`${a0.applied.slice(0, 7)} keeps running`));
  t.regex(c.message, /error: The option `services\.bogus' does not exist/, "the build log's tail");
  const a1 = await agent();
  t.is(a1.runtime.state, 'running');
  t.is(a1.runtime.revision, a0.applied, 'the old revision keeps running');
  t.is(a1.runtime.pid, a0.runtime.pid, 'in the same container');
  t.regex(fs.readFileSync(path.join(s.state, 'agents', 'worker', 'build.log'), 'utf8'), /services\.bogus/, 'the whole log is kept beside the agent');
  // A fix builds, and the container restarts on it.
  const fixed = await pushByPath(repoOf(s.state, 'worker'), { 'prompt.md': 'fixed\n' }, { message: 'fix' });
  const req2 = await waitFor('the fix\'s request', async () => ((await s.api('GET', '/api/approvals?agent=worker')).body as { id: number; head: string; status: string }[]).find((r) => r.head === fixed && r.status === 'pending'), 30_000);
  t.is((await s.api('POST', `/api/approvals/${req2.id}/approve`)).status, 200);
  await waitFor('running the fix', async () => { const v = await agent(); return v.runtime.state === 'running' && v.runtime.revision === fixed; }, 60_000);
  await waitFor('no longer stalled', async () => (await agent()).conditions.find((x: { type: string }) => x.type === 'Stalled').status === 'False', 30_000);
});
