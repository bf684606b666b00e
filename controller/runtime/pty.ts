import fs from 'node:fs';
import os from 'node:os';
import pty from 'node-pty';
import { contractEnv, type AgentSpec, type ExecOptions, type PtyHandle } from './types.ts';

/** The shell a terminal runs where the agent runs on this host: $SHELL, else bash, else sh. */
export function hostShell(env: NodeJS.ProcessEnv = process.env): string {
  for (const s of [env.SHELL, '/bin/bash', '/bin/sh']) {
    if (!s) continue;
    try { fs.accessSync(s, fs.constants.X_OK); return s; } catch { /* next */ }
  }
  return '/bin/sh';
}

/** A terminal's environment in the agent's place: what the agent's own process sees, plus a terminal type. */
export function terminalEnv(spec: AgentSpec, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: spec.mounts.state.target,
    LANG: process.env.LANG ?? 'C.UTF-8',
    TERM: 'xterm-256color',
    COLORTERM: 'truecolor',
    ...spec.env,
    ...extra,
    // Last: a viewer's extras never rename the agent or point it at other dirs.
    ...contractEnv(spec),
  };
}

/**
 * The terminal's foreground process group is the shell's own: it waits at its prompt (or runs a
 * builtin), no program has the terminal. From /proc/<pid>/stat: field 8 is tpgid, field 5 pgrp.
 */
export function shellAtPrompt(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[5]) === Number(f[2]);
  } catch { return false; }
}

/** A node-pty child as the runtime contract's PtyHandle: bytes in and out (never decoded), its own process group. */
export function spawnPty(argv: string[], o: { cwd: string; env: Record<string, string>; cols: number; rows: number }): PtyHandle {
  const [file, ...args] = argv;
  // encoding null: data arrives as Buffers, so a chunk split inside a UTF-8 sequence stays bytes.
  const p = pty.spawn(file!, args, { name: 'xterm-256color', cwd: o.cwd, env: o.env, cols: clampSize(o.cols, 80), rows: clampSize(o.rows, 24), encoding: null });
  let exited = false;
  p.onExit(() => { exited = true; });
  return {
    pid: p.pid,
    write: (data) => { if (!exited) p.write(typeof data === 'string' ? data : Buffer.from(data)); },
    resize: (cols, rows) => { if (!exited) p.resize(clampSize(cols, 80), clampSize(rows, 24)); },
    onData: (fn) => { const d = p.onData((chunk) => fn(chunk as unknown as Buffer)); return () => d.dispose(); },
    onExit: (fn) => { const d = p.onExit((e) => fn({ code: e.signal ? null : e.exitCode, signal: e.signal ? signalName(e.signal) : null })); return () => d.dispose(); },
    pause: () => { if (!exited) p.pause(); },
    resume: () => { if (!exited) p.resume(); },
    kill: (signal = 'SIGHUP') => {
      if (exited) return;
      // The whole group: a pipeline the shell runs goes with it (the shell leads its own session).
      try { process.kill(-p.pid, signal as NodeJS.Signals); } catch { try { p.kill(signal); } catch { /* gone */ } }
    },
    atPrompt: () => !exited && shellAtPrompt(p.pid),
  };
}

/** A shell in the agent's state dir with its environment: the process-like backends' exec. */
export function hostShellPty(spec: AgentSpec, o: ExecOptions): PtyHandle {
  const argv = o.command?.length ? o.command : [hostShell()];
  return spawnPty(argv, { cwd: spec.mounts.state.source, env: terminalEnv(spec, o.env), cols: o.cols, rows: o.rows });
}

const clampSize = (n: number, dflt: number): number => (Number.isInteger(n) && n >= 2 && n <= 1000 ? n : dflt);

function signalName(n: number): string {
  const found = Object.entries(os.constants.signals).find(([, v]) => v === n);
  return found ? found[0] : `signal ${n}`;
}
