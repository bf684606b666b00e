import crypto from 'node:crypto';
import type { Mount } from './types.ts';

/** What one container is started from: everything `nspawnArgv` needs, and nothing it has to look up. */
export interface NspawnPlan {
  /** `hyperhive-<agent>`: the machine name (and hostname) inside. */
  machine: string;
  rootfs: string;
  /** The agent's config (read-only), state (read-write) and token (read-only) at their targets. */
  mounts: (Mount & { idmap?: boolean })[];
  /** Host directories bound read-only at the same path: the software the agent runs. */
  hostDirs: string[];
  env: Record<string, string>;
  /** Working directory inside. */
  cwd: string;
  /**
   * `plain`: the command runs as PID 2 under nspawn's stub init (it reaps zombies and turns a halt
   * into SIGTERM+SIGHUP for the command). `nixos`: the command is the built system's `init`, PID 1.
   */
  mode: 'plain' | 'nixos';
  command: string[];
  /** Operator-chosen extras (e.g. `--private-network`), placed before the command. */
  extraArgs: string[];
  /** Under a transient unit: nspawn tells systemd when the container is up (Type=notify). */
  notify: boolean;
}

/** Bind options for one mount: `--bind-ro=src:dst[:idmap]`. The token is idmapped (see nspawn.ts). */
function bindArg(m: Mount & { idmap?: boolean }): string {
  const spec = m.source === m.target ? m.source : `${m.source}:${m.target}`;
  return `--${m.readOnly ? 'bind-ro' : 'bind'}=${spec}${m.idmap ? `${m.source === m.target ? `:${m.target}` : ''}:idmap` : ''}`;
}

/**
 * The systemd-nspawn argv of a plan. Unprivileged: `--private-users=pick` maps root inside to a host
 * uid range of 65536 (taken from the rootfs's owner, so it stays the agent's across restarts) and
 * `chown` gives the rootfs to it. Never registered with machined and never a scope of its own
 * (`--register=no --keep-unit`): the controller, or the transient unit it started, owns it.
 */
export function nspawnArgv(p: NspawnPlan, binary = 'systemd-nspawn'): string[] {
  const argv = [
    binary, '--quiet', '--register=no', '--keep-unit', `--machine=${p.machine}`,
    '--private-users=pick', '--private-users-ownership=chown',
    // systemd's halt signal: the stub init (and a NixOS init) shut down cleanly on it.
    '--kill-signal=SIGRTMIN+3',
    // stdout/stderr stay the caller's (runtime.log): no pseudo-terminal in between.
    '--console=pipe',
    `--directory=${p.rootfs}`,
  ];
  for (const d of p.hostDirs) argv.push(`--bind-ro=${d}`);
  for (const m of p.mounts) argv.push(bindArg(m));
  for (const [k, v] of Object.entries(p.env)) argv.push(`--setenv=${k}=${v}`);
  argv.push(`--chdir=${p.cwd}`);
  if (p.notify) argv.push('--notify-ready=yes');
  if (p.mode === 'plain') argv.push('--as-pid2');
  argv.push(...p.extraArgs, '--', ...p.command);
  return argv;
}

/** The machine name of an agent's container (agent names are already hostname-safe). */
export const machineName = (agent: string): string => `hyperhive-${agent}`;
/** The transient unit of an agent (the Contract's name). */
export const unitName = (agent: string): string => `hyperhive-agent-${agent}.service`;

/** A short, stable fingerprint of how a container is started: the next controller compares it before taking one over. */
export const argvHash = (argv: string[]): string => crypto.createHash('sha256').update(argv.join('\0')).digest('hex').slice(0, 16);
