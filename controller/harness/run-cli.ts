import { spawn } from 'node:child_process';
import { StreamParser, type StreamObjectListener } from './stream.ts';
import type { TurnOutcome } from './classify.ts';

export interface RunCliOptions {
  command: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Kill the CLI when it prints nothing (stdout or stderr) for this long. */
  hangMs: number;
  /** SIGTERM first; SIGKILL after this. */
  killGraceMs?: number;
  signal?: AbortSignal;
  /** Called with each stdout chunk as it comes (for logs). */
  onOutput?: (chunk: string) => void;
  /** Called with each stream-json object as it is parsed (the live transcript). */
  onEvent?: StreamObjectListener;
}
export interface RunCliResult extends TurnOutcome { durationMs: number }

const STDERR_TAIL = 16 * 1024;

/** Process groups of the CLIs running now, so a harness that has to exit at once takes them with it. */
const runningGroups = new Set<number>();

/** Signals every running CLI's process group (synchronous: usable from a process 'exit' handler). */
export function killRunningClis(signal: NodeJS.Signals = 'SIGKILL'): void {
  for (const pid of runningGroups) { try { process.kill(-pid, signal); } catch { /* gone */ } }
}

/** Runs the CLI once: parses stdout as it comes, watches for silence, never throws. */
export function runCli(o: RunCliOptions): Promise<RunCliResult> {
  const started = Date.now();
  const parser = new StreamParser(o.onEvent);
  let stderr = '';
  let killedForSilence = false;
  return new Promise((resolve) => {
    let child;
    try {
      // Own process group: the CLI starts MCP servers of its own, and a kill must reach them too.
      child = spawn(o.command, o.args, { cwd: o.cwd, env: o.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    } catch (e) {
      resolve({ stream: parser.end(), exitCode: null, killedForSilence: false, spawnError: spawnMessage(o.command, e), durationMs: Date.now() - started });
      return;
    }
    const pid = child.pid;
    if (pid) runningGroups.add(pid);
    const killGroup = (sig: NodeJS.Signals) => {
      try { if (child.pid) process.kill(-child.pid, sig); } catch { try { child.kill(sig); } catch { /* gone */ } }
    };
    let graceTimer: NodeJS.Timeout | undefined;
    const terminate = () => {
      killGroup('SIGTERM');
      graceTimer ??= setTimeout(() => killGroup('SIGKILL'), o.killGraceMs ?? 5000);
    };
    let silence: NodeJS.Timeout;
    const armSilence = () => {
      clearTimeout(silence);
      silence = setTimeout(() => { killedForSilence = true; terminate(); }, o.hangMs);
    };
    armSilence();
    const onAbort = () => terminate();
    o.signal?.addEventListener('abort', onAbort, { once: true });

    child.stdout.on('data', (c: Buffer) => { armSilence(); parser.push(c); o.onOutput?.(c.toString('utf8')); });
    child.stderr.on('data', (c: Buffer) => {
      armSilence();
      stderr = (stderr + c.toString('utf8')).slice(-STDERR_TAIL);
    });
    let spawnError: string | undefined;
    child.on('error', (e) => { spawnError = spawnMessage(o.command, e); });
    child.on('close', (code) => {
      clearTimeout(silence);
      clearTimeout(graceTimer);
      o.signal?.removeEventListener('abort', onAbort);
      // The group may outlive its leader (MCP servers): make sure nothing is left behind.
      killGroup('SIGKILL');
      if (pid) runningGroups.delete(pid);
      resolve({ stream: parser.end(), exitCode: spawnError ? null : code, killedForSilence, stderr, spawnError, durationMs: Date.now() - started });
    });
  });
}

function spawnMessage(command: string, e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'ENOENT') return `agent CLI not found: ${command}`;
  if (err?.code === 'EACCES') return `agent CLI not executable: ${command}`;
  return `agent CLI ${command} could not be started: ${err?.message ?? String(e)}`;
}
