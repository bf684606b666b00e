import { spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TEMPLATES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'templates');

/** What a build of one agent revision is asked for. */
export interface BuildRequest {
  agent: string;
  revision: string;
  /** The rendered flake (flake.nix beside the revision's config). */
  flakeDir: string;
  /** The flake output to build, e.g. `nixosConfigurations.agent.config.system.build.toplevel`. */
  attr: string;
  /** Where the build's output goes (kept for the operator; its tail is shown on failure). */
  logFile: string;
}

/** Builds an agent's system; rejects with an Error carrying `logTail` (the last lines of the build log). */
export interface NixBuilder {
  build(req: BuildRequest): Promise<{ outPath: string }>;
}

export const TOPLEVEL_ATTR = 'nixosConfigurations.agent.config.system.build.toplevel';
const TAIL_BYTES = 4096;

/** The last `bytes` of a file, from a line start where one is near. */
export function tailOf(file: string, bytes = TAIL_BYTES): string {
  try {
    const size = fs.statSync(file).size;
    const fd = fs.openSync(file, 'r');
    try {
      const n = Math.min(size, bytes);
      const buf = Buffer.alloc(n);
      fs.readSync(fd, buf, 0, n, size - n);
      const text = buf.toString('utf8');
      const nl = text.indexOf('\n');
      return size > bytes && nl >= 0 && nl < text.length - 1 ? text.slice(nl + 1) : text;
    } finally { fs.closeSync(fd); }
  } catch { return ''; }
}

/**
 * `nix build` as a command (argv0 replaceable: tests put a script there that records its argv).
 * No out-link is left in the agent's dir; the printed store path is the build's result. Offline
 * hosts need the flake's inputs in the store already: see the README's Nix section.
 */
export function commandBuilder(argv0: string[] = ['nix'], env: NodeJS.ProcessEnv = process.env): NixBuilder {
  return {
    async build(req) {
      await fsp.mkdir(path.dirname(req.logFile), { recursive: true });
      const log = fs.openSync(req.logFile, 'w');
      const args = [...argv0.slice(1), '--extra-experimental-features', 'nix-command flakes', 'build', '--no-link', '--print-out-paths', '--no-write-lock-file', '-L', `path:${req.flakeDir}#${req.attr}`];
      let stdout = '';
      const code = await new Promise<number | null>((resolve) => {
        const child = spawn(argv0[0]!, args, { stdio: ['ignore', 'pipe', log], env });
        child.stdout!.on('data', (d: Buffer) => { stdout += d.toString('utf8'); fs.writeSync(log, d); });
        child.once('error', (e) => { fs.writeSync(log, `cannot run ${argv0[0]}: ${e.message}\n`); resolve(null); });
        child.once('close', (c) => resolve(c));
      }).finally(() => fs.closeSync(log));
      const outPath = stdout.trim().split('\n').filter(Boolean).at(-1) ?? '';
      if (code !== 0 || !outPath.startsWith('/')) {
        const logTail = tailOf(req.logFile);
        const last = logTail.trim().split('\n').at(-1) ?? '';
        throw Object.assign(new Error(`nix build of ${req.agent} at ${req.revision.slice(0, 7)} failed (${code === null ? 'could not run' : `exit ${code}`})${last ? `: ${last.slice(0, 300)}` : ''}`), { logTail: logTail || '(empty build log)' });
      }
      return { outPath };
    },
  };
}

export interface FlakeInputs {
  agent: string;
  revision: string;
  /** The hyperhive flake the agent's system comes from (a `path:` or any flake reference). */
  hyperhiveFlake: string;
  system: string;
  /** The Contract's environment and the rest the harness service needs (no secrets: the token stays a file). */
  contract: Record<string, unknown>;
}

const nixString = (s: string): string => `"${s.replace(/[\\"$]/g, (c) => `\\${c}`)}"`;

/**
 * Writes the agent's flake into `dir`: templates/container/flake.nix with the values filled in, the
 * revision's config as ./config (agent.nix is its module), and the Contract as ./contract.json.
 */
export async function renderAgentFlake(dir: string, configDir: string, i: FlakeInputs, templatesDir = TEMPLATES): Promise<void> {
  await fsp.rm(dir, { recursive: true, force: true });
  await fsp.mkdir(dir, { recursive: true });
  await fsp.cp(configDir, path.join(dir, 'config'), { recursive: true });
  const template = await fsp.readFile(path.join(templatesDir, 'container', 'flake.nix'), 'utf8');
  const values: Record<string, string> = { agent: nixString(i.agent), revision: nixString(i.revision), hyperhive: nixString(i.hyperhiveFlake), system: nixString(i.system) };
  const text = template.replace(/@(agent|revision|hyperhive|system)@/g, (_, k: string) => values[k]!);
  await fsp.writeFile(path.join(dir, 'flake.nix'), text);
  await fsp.writeFile(path.join(dir, 'contract.json'), `${JSON.stringify(i.contract, null, 2)}\n`);
}

/** Nix's name of this machine's platform. */
export function nixSystem(arch = process.arch): string {
  return `${arch === 'arm64' ? 'aarch64' : arch === 'x64' ? 'x86_64' : arch}-linux`;
}
