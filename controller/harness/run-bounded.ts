import { spawn } from 'node:child_process';
import { formatDuration, type EvalLimits } from './eval-limits.ts';

export interface BoundedResult {
  /** Exit code; null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Set when a bound stopped it, as the sentence a verdict shows; null when it ran its course. */
  exceeded: string | null;
}

export interface BoundedOptions {
  limits: Pick<EvalLimits, 'maxMb' | 'timeoutMs'>;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  input?: string;
  /** Past this much stdout the process is killed (default 16 MB): nothing that big is a surface. */
  maxStdoutBytes?: number;
  /** Throw stdout away unread (`--parse` prints the whole syntax tree). */
  discardStdout?: boolean;
}

/** What the allocators print when RLIMIT_AS says no: Boehm GC's "Out of Memory!", nix's "error: out of memory", C++'s bad_alloc. */
const OUT_OF_MEMORY = /out of memory|bad_alloc|cannot allocate memory/i;
const MAX_STDERR = 64 * 1024;

/**
 * Runs `file args` under an address-space limit (`ulimit -v` in a /bin/sh that then execs it, so the
 * limit holds for the process and all it starts: no prlimit needed) and a wall-clock timeout that
 * kills its whole process group. Output is streamed: stdout up to its cap, stderr's first 64 KB.
 */
export function runBounded(file: string, args: string[], o: BoundedOptions): Promise<BoundedResult> {
  const maxStdout = o.maxStdoutBytes ?? 16 * 1024 * 1024;
  const kb = o.limits.maxMb * 1024;
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', 'ulimit -v "$0" && exec "$@"', String(kb), file, ...args], {
      env: o.env, cwd: o.cwd, stdio: ['pipe', o.discardStdout ? 'ignore' : 'pipe', 'pipe'], detached: true,
    });
    const out: Buffer[] = [];
    let outBytes = 0;
    let err = '';
    let exceeded: string | null = null;
    const kill = (why: string) => {
      exceeded ??= why;
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ }
    };
    const timer = setTimeout(() => kill(`took over ${formatDuration(o.limits.timeoutMs)}`), o.limits.timeoutMs);
    child.stdout?.on('data', (c: Buffer) => {
      outBytes += c.length;
      if (outBytes > maxStdout) { kill(`printed more than ${Math.round(maxStdout / 1024 / 1024)} MB`); return; }
      out.push(c);
    });
    child.stderr!.on('data', (c: Buffer) => { if (err.length < MAX_STDERR) err += c.toString('utf8'); });
    child.stdin!.on('error', () => {});
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: -1, signal: null, stdout: '', stderr: `cannot start ${file}: ${e.message}`, exceeded: null });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (!exceeded && code !== 0 && OUT_OF_MEMORY.test(err)) exceeded = `exceeded ${o.limits.maxMb} MB`;
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: err, exceeded });
    });
    child.stdin!.end(o.input ?? '');
  });
}

export { Semaphore } from '../semaphore.ts';
