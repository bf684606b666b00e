import test from 'ava';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildTurnArgv } from '../../controller/harness/argv.ts';
import { buildMcpConfig } from '../../controller/harness/mcp-config.ts';
import { evaluateSurface, findNixInstantiate, NIX_ABSENT_WARNING, scanLibNames, scanPkgTree } from '../../controller/harness/surface.ts';
import { HyperhiveError } from '../../controller/errors.ts';

const nix = await findNixInstantiate();
const withNix = nix ? test : test.skip;
if (!nix) console.log('skipped: nix-instantiate not found: the Nix surface tests do not run');

async function configDir(t: { teardown(fn: () => unknown): void }, files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hh-surface-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return dir;
}

// What the CLI gets out of a surface: the argv tool lists and the mcp-config servers.
function cliSurface(surface: Awaited<ReturnType<typeof evaluateSurface>>['surface']) {
  const argv = buildTurnArgv({ prompt: 'p', model: 'm', mcpConfigFile: 'F', systemPrompt: 'S', allow: surface.tools.allow, deny: surface.tools.deny });
  const list = (flag: string) => {
    const i = argv.indexOf(flag);
    if (i < 0) return [];
    const out: string[] = [];
    for (let j = i + 1; j < argv.length && !argv[j].startsWith('--'); j++) out.push(argv[j]);
    return out;
  };
  return { allowedTools: list('--allowedTools'), disallowedTools: list('--disallowedTools'), mcp: buildMcpConfig({ url: 'http://c:8000', token: 'T', surface }) };
}

const HYPERHIVE_JSON = JSON.stringify({
  tools: { allow: ['Read', 'Edit', 'Bash(git *)', 'mcp__github__*'], deny: ['Bash(rm *)', 'WebFetch'] },
  mcpServers: { github: { command: 'github-mcp-server', args: ['stdio'], env: { GITHUB_HOST: 'github.com' } } },
  env: { GIT_AUTHOR_NAME: 'alice' },
});
const EXPECTED_CLI = {
  allowedTools: ['Read', 'Edit', 'Bash(git *)', 'mcp__github__*'],
  disallowedTools: ['Bash(rm *)', 'WebFetch'],
  mcp: {
    mcpServers: {
      hyperhive: { type: 'http', url: 'http://c:8000/mcp', headers: { Authorization: 'Bearer T' } },
      github: { type: 'stdio', command: 'github-mcp-server', args: ['stdio'], env: { GITHUB_HOST: 'github.com' } },
    },
  },
};
const TEMPLATE_SHAPE = `{ config, lib, pkgs, ... }:
let
  surface = builtins.fromJSON (builtins.readFile ./hyperhive.json);
in
{
  hyperhive = surface;
}
`;

withNix('template shape: hyperhive.json through agent.nix → exact CLI surface', async (t) => {
  const dir = await configDir(t, { 'agent.nix': TEMPLATE_SHAPE, 'hyperhive.json': HYPERHIVE_JSON });
  const r = await evaluateSurface(dir);
  t.is(r.source, 'nix');
  t.deepEqual(r.warnings, []);
  t.deepEqual(cliSurface(r.surface), EXPECTED_CLI);
  t.deepEqual(r.surface.env, { GIT_AUTHOR_NAME: 'alice' });
});

withNix('hand-written Nix set in an agent.nix that uses pkgs elsewhere → the same CLI surface', async (t) => {
  const dir = await configDir(t, {
    'agent.nix': `{ config, lib, pkgs, ... }:
with lib;
{
  environment.systemPackages = [ pkgs.git pkgs.ripgrep ] ++ (with pkgs; [ jq notInTheStubAtAll ]);
  systemd.services.agent.path = [ pkgs.nodejs_20 ];
  services.openssh.enable = mkDefault false;
  hyperhive = {
    tools.allow = [ "Read" "Edit" ] ++ optionals true [ "Bash(git *)" ] ++ [ "mcp__github__*" ];
    tools.deny = mkForce [ "Bash(rm *)" "WebFetch" ];
    mcpServers.github = {
      command = "github-mcp-server";
      args = [ "stdio" ];
      env = mkMerge [ { GITHUB_HOST = "github.com"; } (mkIf false { DEBUG = "1"; }) ];
    };
    env.GIT_AUTHOR_NAME = "alice";
  };
}
`,
  });
  const r = await evaluateSurface(dir);
  t.is(r.source, 'nix');
  t.deepEqual(r.warnings, []);
  t.deepEqual(cliSurface(r.surface), EXPECTED_CLI);
});

withNix('the real template in templates/agent evaluates', async (t) => {
  const tpl = new URL('../../templates/agent/', import.meta.url).pathname;
  const dir = await configDir(t, {});
  await cp(tpl, dir, { recursive: true });
  const r = await evaluateSurface(dir);
  t.is(r.source, 'nix');
  t.deepEqual(r.surface, JSON.parse(await readFile(path.join(dir, 'hyperhive.json'), 'utf8')) as never);
});

withNix('a full module (options + config) that reads config.hyperhive itself', async (t) => {
  const dir = await configDir(t, {
    'hyperhive.json': JSON.stringify({ tools: { allow: ['Read'] }, env: { X: 'y' } }),
    'agent.nix': `{ config, lib, pkgs, ... }:
{
  options.hyperhive = lib.mkOption { type = lib.types.attrs; default = { }; };
  config = {
    hyperhive = lib.importJSON ./hyperhive.json;
    environment.etc."agent-env".text = builtins.toJSON config.hyperhive.env;
    users.users.agent.packages = [ pkgs.nodejs ];
  };
}
`,
  });
  const r = await evaluateSurface(dir);
  t.deepEqual(r.surface, { tools: { allow: ['Read'], deny: [] }, mcpServers: {}, env: { X: 'y' } });
});

withNix('a pkgs path inside hyperhive evaluates to a stub path, with a warning', async (t) => {
  const dir = await configDir(t, {
    'agent.nix': `{ pkgs, ... }: { hyperhive.mcpServers.fs = { command = "\${pkgs.mcp-server-fs}/bin/mcp-server-fs"; }; }`,
  });
  const r = await evaluateSurface(dir);
  t.regex(r.surface.mcpServers.fs.command, /^\/nix\/store\/.*-hyperhive-stub-mcp-server-fs\/bin\/mcp-server-fs$/);
  t.true(r.warnings.some((w) => /stubs/.test(w)));
});

withNix('a syntax error → unprocessable with the Nix error and its position', async (t) => {
  const dir = await configDir(t, { 'agent.nix': '{ config, lib, pkgs, ... }: {\n  hyperhive = { tools.allow = [ "Edit" ;\n}\n' });
  const e = await t.throwsAsync(evaluateSurface(dir), { instanceOf: HyperhiveError });
  t.is(e!.code, 'unprocessable');
  t.is(e!.status, 422);
  t.regex(e!.message, /syntax error/);
  t.regex(e!.message, /agent\.nix:2/);
  t.notRegex(e!.message, /\x1b\[/);
});

withNix('an evaluation error → unprocessable naming it', async (t) => {
  const dir = await configDir(t, { 'agent.nix': '{ lib, ... }: { hyperhive.tools.allow = [ (throw "no tools for you") ]; }' });
  const e = await t.throwsAsync(evaluateSurface(dir), { instanceOf: HyperhiveError });
  t.is(e!.code, 'unprocessable');
  t.regex(e!.message, /no tools for you/);
});

withNix('a lib function the stub lacks is named in the error', async (t) => {
  const dir = await configDir(t, { 'agent.nix': '{ lib, ... }: { hyperhive.tools.allow = lib.frobnicate [ "Edit" ]; }' });
  await t.throwsAsync(evaluateSurface(dir), { code: 'unprocessable', message: /lib\.frobnicate is not available/ } as never);
});

withNix('a surface of the wrong shape → unprocessable listing the problems', async (t) => {
  const dir = await configDir(t, { 'agent.nix': '{ ... }: { hyperhive = { tools.allow = [ "not a pattern!" ]; colour = "blue"; }; }' });
  const e = await t.throwsAsync(evaluateSurface(dir), { instanceOf: HyperhiveError });
  t.is(e!.code, 'unprocessable');
  t.regex(e!.message, /unknown key "colour"/);
  t.regex(e!.message, /not a tool pattern/);
});

withNix('agent.nix may not read files outside its config dir', async (t) => {
  const dir = await configDir(t, { 'agent.nix': '{ ... }: { hyperhive.env.X = builtins.readFile /etc/hostname; }' });
  await t.throwsAsync(evaluateSurface(dir), { code: 'unprocessable', message: /forbidden in restricted mode/ } as never);
});

withNix('agent.nix without a hyperhive set → empty surface and a warning', async (t) => {
  const dir = await configDir(t, { 'agent.nix': '{ pkgs, ... }: { environment.systemPackages = [ pkgs.git ]; }' });
  const r = await evaluateSurface(dir);
  t.deepEqual(r.surface, { tools: { allow: [], deny: [] }, mcpServers: {}, env: {} });
  t.true(r.warnings.some((w) => /defines no hyperhive set/.test(w)));
});

test('without nix-instantiate: hyperhive.json is read directly, with a warning', async (t) => {
  const dir = await configDir(t, { 'agent.nix': '{ this is not even nix', 'hyperhive.json': HYPERHIVE_JSON });
  const r = await evaluateSurface(dir, { nixInstantiate: null });
  t.is(r.source, 'json');
  t.deepEqual(r.warnings, [NIX_ABSENT_WARNING]);
  t.deepEqual(cliSurface(r.surface), EXPECTED_CLI);
});

test('without nix-instantiate, a bad hyperhive.json is refused', async (t) => {
  const dir = await configDir(t, { 'hyperhive.json': '{"tools": {"allow": "Edit"}}' });
  await t.throwsAsync(evaluateSurface(dir, { nixInstantiate: null }), { instanceOf: HyperhiveError, message: /tools\.allow/ });
});

test('pkgs and lib names are scanned from the text', (t) => {
  t.deepEqual(scanPkgTree('[ pkgs.git pkgs.python3Packages.requests "${pkgs.jq}/bin/jq" ]'), { git: {}, python3Packages: { requests: {} }, jq: {} });
  t.deepEqual(scanLibNames('with lib; lib.mkIf x (lib.optionals y lib.types.str)'), ['mkIf', 'optionals', 'types']);
});
