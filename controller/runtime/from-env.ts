import { HyperhiveError } from '../errors.ts';
import { parseHyperhiveJson, type AgentRuntime } from '../surface/index.ts';
import { readFileAt } from '../../repos/read.ts';
import { commandBuilder } from './nix-build.ts';
import type { NspawnRuntimeOptions } from './nspawn.ts';

const words = (s: string | undefined): string[] | undefined => (s === undefined || s.trim() === '' ? undefined : s.trim().split(/\s+/));

/**
 * The nspawn runtime's settings from `serve`'s environment:
 * HYPERHIVE_NSPAWN_HOST_DIRS (colon-separated dirs bound read-only; default /usr and friends, or
 * /nix/store on NixOS), HYPERHIVE_NSPAWN_ARGS (extra systemd-nspawn arguments, space-separated,
 * e.g. `--private-network`), HYPERHIVE_NSPAWN_NIXOS (1: build each revision with Nix; 0: never;
 * default: on NixOS), HYPERHIVE_NIX_BUILD (the nix command, default `nix`), HYPERHIVE_FLAKE (the
 * hyperhive flake agent systems are built from).
 */
export function nspawnOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): Omit<NspawnRuntimeOptions, 'systemd'> {
  const o: Omit<NspawnRuntimeOptions, 'systemd'> = {};
  if (env.HYPERHIVE_NSPAWN_HOST_DIRS) {
    const dirs = env.HYPERHIVE_NSPAWN_HOST_DIRS.split(':').filter(Boolean);
    const bad = dirs.find((d) => !d.startsWith('/'));
    if (bad) throw new HyperhiveError('bad_request', `HYPERHIVE_NSPAWN_HOST_DIRS must list absolute directories, got ${JSON.stringify(bad)}`);
    o.hostDirs = dirs;
  }
  const args = words(env.HYPERHIVE_NSPAWN_ARGS);
  if (args) o.extraArgs = args;
  const nixos = env.HYPERHIVE_NSPAWN_NIXOS;
  if (nixos !== undefined && nixos !== '') {
    if (!['0', '1'].includes(nixos)) throw new HyperhiveError('bad_request', `HYPERHIVE_NSPAWN_NIXOS must be 0 or 1, got ${JSON.stringify(nixos)}`);
    o.nixos = nixos === '1';
  }
  const nix = words(env.HYPERHIVE_NIX_BUILD);
  if (nix) o.builder = commandBuilder(nix);
  if (env.HYPERHIVE_FLAKE) o.hyperhiveFlake = env.HYPERHIVE_FLAKE;
  return o;
}

const chosen = new Map<string, Promise<AgentRuntime | null>>();

/**
 * The runtime a revision asks for: hyperhive.json's `runtime` at that commit (where the agent runs
 * is the controller's business, read from the data file, never from an evaluation of agent.nix).
 * A hyperhive.json that does not parse is refused (the agent shows why) rather than run on the
 * default. Cached by commit (commits never change).
 */
export function chooseAgentRuntime(repo: string, revision: string): Promise<AgentRuntime | null> {
  const key = `${repo}\0${revision}`;
  let p = chosen.get(key);
  if (!p) {
    p = readFileAt(repo, revision, 'hyperhive.json').then((buf) => (buf ? parseHyperhiveJson(buf.toString('utf8')).runtime ?? null : null));
    if (chosen.size > 10_000) chosen.clear();
    chosen.set(key, p);
    p.catch(() => chosen.delete(key));
  }
  return p;
}
