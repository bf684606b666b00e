import os from 'node:os';
import pty from 'node-pty';
import type { PtyHandle } from './types.ts';

const SIGNAL_NAMES = new Map<number, string>(Object.entries(os.constants.signals).map(([name, n]) => [n, name]));

export interface SpawnPtyOptions { cols: number; rows: number; env: Record<string, string>; cwd?: string }

/** Runs argv on a pseudo-terminal (node-pty) and wraps it as the runtime contract's PtyHandle. */
export function spawnPty(argv: string[], o: SpawnPtyOptions): PtyHandle {
  const [file, ...args] = argv;
  // encoding null: chunks come as Buffers (bytes as written), never split inside a UTF-8 sequence by a decoder here.
  const p = pty.spawn(file!, args, { name: o.env.TERM ?? 'xterm-256color', cols: o.cols, rows: o.rows, cwd: o.cwd ?? '/', env: o.env, encoding: null } as pty.IPtyForkOptions);
  let ended = false;
  p.onExit(() => { ended = true; });
  return {
    pid: p.pid,
    write: (data) => { if (!ended) p.write(typeof data === 'string' ? data : Buffer.from(data)); },
    resize: (cols, rows) => { if (!ended) p.resize(cols, rows); },
    onData: (fn) => { const d = p.onData((chunk) => fn(chunk as unknown as Uint8Array)); return () => d.dispose(); },
    onExit: (fn) => {
      const d = p.onExit(({ exitCode, signal }) => fn({ code: signal ? null : exitCode, signal: signal ? SIGNAL_NAMES.get(signal) ?? String(signal) : null }));
      return () => d.dispose();
    },
    pause: () => p.pause(),
    resume: () => p.resume(),
    kill: (signal) => { if (!ended) p.kill(signal ?? 'SIGHUP'); },
  };
}
