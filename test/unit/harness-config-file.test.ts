import test from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HyperhiveError } from '../../controller/errors.ts';
import { assertNotLinked, readConfigFile } from '../../controller/harness/config-file.ts';
import { httpHarnessIO } from '../../controller/harness/http-io.ts';
import type { HarnessIO, Message, TurnReport } from '../../controller/harness/io.ts';
import { runHarness } from '../../controller/harness/loop.ts';
import { evaluateSurface, findNixInstantiate } from '../../controller/harness/surface.ts';

// The harness reads its config files (prompt.md, agent.nix, hyperhive.json) without following a
// link: a checkout never holds one, and one that got there anyway must not make a host file the prompt.

const FAKE = fileURLToPath(new URL('../helpers/fake-claude.mjs', import.meta.url));
const SECRET = 'host secret: never a prompt\n';

function setup(t: { teardown(fn: () => void): void }) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hh-config-file-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  const config = path.join(root, 'config');
  fs.mkdirSync(config);
  const outside = path.join(root, 'host-file');
  fs.writeFileSync(outside, SECRET);
  return { root, config, outside };
}

/** The IO the harness runs on, with readConfig as the real one (from the checkout); nothing else is reached. */
function io(config: string, reports: TurnReport[]): HarnessIO {
  const real = httpHarnessIO({
    url: 'http://127.0.0.1:9', tokenFile: '/nonexistent', agent: 'alice', configDir: config, stateDir: config,
    caller: { call: async () => { throw new Error('no controller in this test'); }, close: async () => {} },
  });
  let given = false;
  return {
    recv: async (): Promise<Message[]> => {
      if (given) return new Promise(() => {});
      given = true;
      return [{ id: 1, from: 'operator', to: 'alice', kind: 'message', body: 'hello', createdAt: new Date().toISOString() }];
    },
    readLive: async () => ({ model: 'sonnet', notes: '' }),
    readConfig: () => real.readConfig(),
    reportTurn: async (r) => { reports.push(r); },
  };
}

test('a regular file is read, an absent one is null; a symlink or a FIFO is refused naming the file', async (t) => {
  const { config, outside } = setup(t);
  fs.writeFileSync(path.join(config, 'prompt.md'), 'be brief\n');
  t.is((await readConfigFile(config, 'prompt.md'))?.toString(), 'be brief\n');
  t.is(await readConfigFile(config, 'absent.md'), null);
  await t.notThrowsAsync(assertNotLinked(config, 'prompt.md'));
  await t.notThrowsAsync(assertNotLinked(config, 'absent.md'));

  fs.symlinkSync(outside, path.join(config, 'agent.nix'));
  const e = await t.throwsAsync(readConfigFile(config, 'agent.nix'), { instanceOf: HyperhiveError });
  t.is(e?.code, 'forbidden');
  t.regex(e!.message, /^agent\.nix in .* is a symbolic link: the harness reads config files only as regular files/);
  await t.throwsAsync(assertNotLinked(config, 'agent.nix'), { message: /agent\.nix in .* is a symbolic link/ });
  // A link to a file inside the checkout is refused too: no link is followed at all.
  fs.symlinkSync('prompt.md', path.join(config, 'inner.md'));
  await t.throwsAsync(readConfigFile(config, 'inner.md'), { message: /is a symbolic link/ });

  try { execFileSync('mkfifo', [path.join(config, 'hyperhive.json')]); } catch { t.log('mkfifo not available: the FIFO case is not checked'); return; }
  await t.throwsAsync(readConfigFile(config, 'hyperhive.json'), { message: /hyperhive\.json in .* is not a regular file/ });
  await t.throwsAsync(assertNotLinked(config, 'hyperhive.json'), { message: /is not a regular file/ });
});

test('readConfig refuses a prompt.md linked to a host file; a turn with it fails saying so and never reads the file', async (t) => {
  const { config, outside } = setup(t);
  fs.writeFileSync(path.join(config, 'hyperhive.json'), '{}');
  fs.symlinkSync(outside, path.join(config, 'prompt.md'));
  const reports: TurnReport[] = [];
  const harnessIo = io(config, reports);
  await t.throwsAsync(harnessIo.readConfig(), { message: /prompt\.md in .* is a symbolic link/ });

  const lines: string[] = [];
  await runHarness(harnessIo, {
    agent: 'alice', url: 'http://127.0.0.1:9', token: async () => 'tok', stateDir: path.join(config, '..', 'state'),
    cli: FAKE, env: { PATH: process.env.PATH }, recvWaitSeconds: 1, maxTurns: 1,
    backoff: { initialMs: 10, maxMs: 10, factor: 1 }, log: (l) => lines.push(l),
    evaluate: (dir) => evaluateSurface(dir, { nixInstantiate: null }),
  });
  t.is(reports.length, 1);
  t.is(reports[0]!.class, 'failure');
  t.regex(reports[0]!.error ?? '', /prompt\.md in .* is a symbolic link/);
  t.false(JSON.stringify({ reports, lines }).includes('host secret'), 'the host file never reached a report or the log');
});

test('evaluateSurface refuses a linked hyperhive.json or agent.nix, with Nix and without', async (t) => {
  const { config, outside } = setup(t);
  fs.writeFileSync(outside, '{"tools":{"allow":["Bash(*)"]}}');
  fs.symlinkSync(outside, path.join(config, 'hyperhive.json'));
  await t.throwsAsync(evaluateSurface(config, { nixInstantiate: null }), { message: /hyperhive\.json in .* is a symbolic link/ });
  const nix = await findNixInstantiate();
  if (!nix) { t.log('nix-instantiate not found: the Nix case is not checked'); return; }
  fs.writeFileSync(path.join(config, 'agent.nix'), '{ ... }: { hyperhive = builtins.fromJSON (builtins.readFile ./hyperhive.json); }\n');
  await t.throwsAsync(evaluateSurface(config, { nixInstantiate: nix }), { message: /hyperhive\.json in .* is a symbolic link/ });
  fs.rmSync(path.join(config, 'hyperhive.json'));
  fs.rmSync(path.join(config, 'agent.nix'));
  fs.symlinkSync(outside, path.join(config, 'agent.nix'));
  await t.throwsAsync(evaluateSurface(config, { nixInstantiate: nix }), { message: /agent\.nix in .* is a symbolic link/ });
});
