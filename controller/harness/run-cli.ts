import { spawn } from 'node:child_process';
import { StreamParser, type ParsedStream, type StreamObjectListener } from './stream.ts';
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
  /** Written to the CLI's stdin at start (the turn as stream-json); stdin is closed once a result line came. Absent: no stdin. */
  input?: string;
  /**
   * Answers a `control_request` the CLI writes (`can_use_tool`: may this tool call run?); the answer goes
   * back on stdin as its `control_response`. The silence watchdog does not run while one waits: an
   * operator may take all the time the controller gives them. `signal` aborts when the CLI cancels it.
   */
  onControl?: (request: Record<string, unknown>, stream: ParsedStream, signal: AbortSignal) => Promise<Record<string, unknown>>;
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
  let stderr = '';
  let killedForSilence = false;
  return new Promise((resolve) => {
    let child: ReturnType<typeof spawn>;
    // Control requests waiting for their answer, by request_id (aborted when the CLI cancels one).
    const waiting = new Map<string, AbortController>();
    const write = (line: Record<string, unknown>) => {
      if (child.stdin && !child.stdin.destroyed && child.stdin.writable) child.stdin.write(`${JSON.stringify(line)}\n`);
    };
    const parser = new StreamParser(o.onEvent, (line) => {
      if (!o.input || !line.trim().startsWith('{')) return;
      let ev: Record<string, unknown>;
      try { ev = JSON.parse(line); } catch { return; }
      if (ev.type === 'control_request' && typeof ev.request_id === 'string') answerControl(ev.request_id, (ev.request ?? {}) as Record<string, unknown>);
      else if (ev.type === 'control_cancel_request' && typeof ev.request_id === 'string') waiting.get(ev.request_id)?.abort();
      // The turn is over: closing stdin lets the CLI exit (it would wait for another user message).
      else if (ev.type === 'result') { sawResult = true; if (waiting.size === 0) child.stdin?.end(); }
    });
    let sawResult = false;
    const answerControl = (id: string, request: Record<string, unknown>) => {
      const ac = new AbortController();
      waiting.set(id, ac);
      clearTimeout(silence);
      const answer = o.onControl
        ? o.onControl(request, parser.state, ac.signal)
        : Promise.reject(new Error(`this harness answers no ${String(request.subtype)} requests`));
      answer.then(
        (response) => { if (!ac.signal.aborted) write({ type: 'control_response', response: { subtype: 'success', request_id: id, response } }); },
        (e) => { if (!ac.signal.aborted) write({ type: 'control_response', response: { subtype: 'error', request_id: id, error: (e as Error).message } }); },
      ).finally(() => {
        waiting.delete(id);
        if (waiting.size === 0) { armSilence(); if (sawResult) child.stdin?.end(); }
      });
    };
    try {
      // Own process group: the CLI starts MCP servers of its own, and a kill must reach them too.
      child = spawn(o.command, o.args, { cwd: o.cwd, env: o.env, stdio: [o.input ? 'pipe' : 'ignore', 'pipe', 'pipe'], detached: true });
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
    let silence: NodeJS.Timeout | undefined;
    // The watchdog counts only the CLI's own silence, never the time a control request waits for its answer.
    const armSilence = () => {
      clearTimeout(silence);
      if (waiting.size) return;
      silence = setTimeout(() => { killedForSilence = true; terminate(); }, o.hangMs);
    };
    armSilence();
    if (o.input && child.stdin) {
      child.stdin.on('error', () => { /* the CLI went away; close handles it */ });
      child.stdin.write(o.input);
    }
    const onAbort = () => terminate();
    o.signal?.addEventListener('abort', onAbort, { once: true });

    child.stdout!.on('data', (c: Buffer) => { armSilence(); parser.push(c); o.onOutput?.(c.toString('utf8')); });
    child.stderr!.on('data', (c: Buffer) => {
      armSilence();
      stderr = (stderr + c.toString('utf8')).slice(-STDERR_TAIL);
    });
    let spawnError: string | undefined;
    child.on('error', (e) => { spawnError = spawnMessage(o.command, e); });
    child.on('close', (code) => {
      clearTimeout(silence);
      for (const ac of waiting.values()) ac.abort();
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
