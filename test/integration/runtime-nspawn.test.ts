import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NspawnRuntime, withContainerTargets } from '../../controller/runtime/nspawn.ts';
import { waitFor } from '../helpers/wait.ts';
import { PROJECT_ROOT } from '../helpers/paths.ts';
import { createRepo } from '../../repos/store.ts';
import { identityFor } from '../../repos/identity.ts';
import { RECORDING_AGENT, runtimeConformance } from '../helpers/runtime-conformance.ts';

/** The agent's command inside the container (PID 2 under the stub init), once the container is up. */
async function agentPid(rt: NspawnRuntime, agent: string): Promise<number> {
  return waitFor(`${agent}'s command inside its container`, () => rt.agentPid(agent), 20_000);
}

// The nspawn backend (--systemd off: the runtime supervises systemd-nspawn itself) against the same
// runtime contract as process and the fake: real unprivileged containers from a minimal rootfs
// with the host's /usr bound read-only; the agent sees the Contract's paths at /hyperhive/*.
runtimeConformance(test, {
  name: 'nspawn',
  skip: () => NspawnRuntime.unavailable(),
  runtime: () => new NspawnRuntime({ systemd: 'off', nixos: false, minBackoffMs: 50, maxBackoffMs: 1000, stopTimeoutMs: 5000 }),
  command: [process.execPath, '-e', RECORDING_AGENT],
  spec: withContainerTargets,
  kill: async (rt, agent) => { process.kill(await agentPid(rt as NspawnRuntime, agent), 'SIGKILL'); },
  envOf: async (_rt, spec) => {
    try { return JSON.parse(fs.readFileSync(path.join(spec.mounts.state.source, 'env.json'), 'utf8')); } catch { return null; }
  },
});

// ---- what the container is: beyond the contract ------------------------------------------------

const PROBE = `
const fs = require('node:fs');
const e = process.env; const out = { uid: process.getuid(), cwd: process.cwd() };
const attempt = (k, fn) => { try { fn(); out[k] = 'ok'; } catch (err) { out[k] = err.code || err.message; } };
attempt('writeConfig', () => fs.writeFileSync(e.HYPERHIVE_CONFIG_DIR + '/x', 'y'));
attempt('writeToken', () => fs.writeFileSync(e.HYPERHIVE_TOKEN_FILE, 'z'));
attempt('writeUsr', () => fs.writeFileSync('/usr/hh-probe', 'y'));
attempt('writeState', () => fs.writeFileSync(e.HYPERHIVE_STATE_DIR + '/written-inside', 'y'));
try { out.token = fs.readFileSync(e.HYPERHIVE_TOKEN_FILE, 'utf8').trim(); } catch (err) { out.token = err.code; }
fs.writeFileSync(e.HYPERHIVE_STATE_DIR + '/probe.json', JSON.stringify(out));
setInterval(() => {}, 1 << 30);
process.on('SIGTERM', () => process.exit(0));
`;

const skipReason = NspawnRuntime.unavailable();
const it = skipReason ? test.skip : test;
if (skipReason) test('nspawn: isolation and exec tests skipped', (t) => { t.log(`skipped: ${skipReason}`); t.pass(); });

async function probeFixture(t: import('ava').ExecutionContext, name: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hh-nspawn-'));
  const repo = path.join(dir, 'repos', `${name}.git`);
  const roots = await createRepo(repo, { agent: name, templatesDir: path.join(PROJECT_ROOT, 'templates'), eventsFile: path.join(dir, 'refs.jsonl'), author: identityFor('operator'), projectRoot: PROJECT_ROOT });
  const base = path.join(dir, 'agents', name);
  fs.mkdirSync(base, { recursive: true });
  fs.writeFileSync(path.join(base, 'token'), 'secret-token\n', { mode: 0o600 });
  const m = (sub: string, readOnly: boolean) => ({ source: path.join(base, sub), target: path.join(base, sub), readOnly });
  const spec = withContainerTargets({
    name, repo, mounts: { config: m('config', true), state: m('state', false), token: m('token', true) },
    env: {}, controllerUrl: 'http://127.0.0.1:9', command: [process.execPath, '-e', PROBE], workingClone: false,
  });
  const rt = new NspawnRuntime({ systemd: 'off', nixos: false, minBackoffMs: 50, stopTimeoutMs: 5000 });
  t.teardown(async () => { await rt.close(); fs.rmSync(dir, { recursive: true, force: true }); });
  await rt.activate(await rt.prepare(spec, roots.config));
  const probe = await waitFor('the probe\'s report', () => {
    try { return JSON.parse(fs.readFileSync(path.join(spec.mounts.state.source, 'probe.json'), 'utf8')) as Record<string, unknown>; } catch { return null; }
  }, 20_000);
  return { rt, spec, probe, base };
}

it('nspawn: root inside is an unprivileged host uid; config, token and /usr are read-only, state is writable and owned by the range', async (t) => {
  const { rt, spec, probe } = await probeFixture(t, 'probe');
  t.is(probe.uid, 0, 'root inside the container');
  t.is(probe.cwd, '/hyperhive/state');
  t.is(probe.writeConfig, 'EROFS', 'the config is bound read-only');
  t.is(probe.writeUsr, 'EROFS', "the host's /usr is bound read-only");
  t.is(probe.writeToken, 'EROFS');
  t.is(probe.token, 'secret-token', 'the token file is readable inside (idmapped, not copied)');
  t.is(probe.writeState, 'ok');
  const hostUid = Number(/^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${rt.agentPid(spec.name)!}/status`, 'utf8'))![1]);
  const base = rt.uidBase(spec);
  t.truthy(base);
  t.is(hostUid, base!, 'on the host the agent runs as the first uid of its range');
  t.true(hostUid >= 524288, `an unprivileged uid (${hostUid})`);
  t.is(fs.statSync(path.join(spec.mounts.state.source, "written-inside")).uid, base!, 'what it writes belongs to its range on the host');
  t.is(fs.statSync(spec.mounts.token.source).uid, 0, 'the token file stays root-owned, mode 0600, on the host');
  t.is(fs.statSync(spec.mounts.token.source).mode & 0o777, 0o600);
});

it('nspawn: exec opens a PTY inside the running container, as root of the container, with the Contract environment', async (t) => {
  const { rt, spec } = await probeFixture(t, 'term');
  const pty = await rt.exec(spec.name, { cols: 100, rows: 30 });
  t.truthy(pty.pid);
  let out = '';
  pty.onData((c) => { out += Buffer.from(c).toString('utf8'); });
  const ended = new Promise<{ code: number | null; signal: string | null }>((r) => pty.onExit(r));
  pty.write('echo "agent=$HYPERHIVE_AGENT uid=$(id -u) dir=$(pwd) cols=$(stty size)"\n');
  await waitFor('the shell\'s answer', () => /agent=term uid=0 dir=\/hyperhive\/state cols=30 100/.test(out), 20_000);
  await waitFor('the shell at its prompt', () => pty.atPrompt?.(), 10_000);
  pty.write('sleep 30\n');
  await waitFor('a program in the foreground: not at the prompt', () => pty.atPrompt?.() === false, 10_000);
  pty.write('\x03');
  await waitFor('back at the prompt after Ctrl-C', () => pty.atPrompt?.(), 10_000);
  pty.resize(120, 40);
  pty.write('stty size; exit 3\n');
  const x = await ended;
  t.regex(out, /40 120/, 'resize reaches the terminal inside');
  t.is(x.code, 3);
});

it('nspawn: exec into an agent that is not running is refused with the reason', async (t) => {
  const { rt, spec } = await probeFixture(t, 'stopped');
  await rt.stop(spec.name);
  const err = await t.throwsAsync(() => rt.exec(spec.name, { cols: 80, rows: 24 }));
  t.regex(err!.message, /not running/);
});
