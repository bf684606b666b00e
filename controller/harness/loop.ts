import { createHash, randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { buildTurnArgv, turnInput } from './argv.ts';
import { classifyTurn, type Classification } from './classify.ts';
import { readConfigFile } from './config-file.ts';
import type { HarnessIO, Message, ToolQuestion, TurnReport } from './io.ts';
import type { ParsedStream } from './stream.ts';
import { buildMcpConfig, writeMcpConfig } from './mcp-config.ts';
import { composeSystemPrompt, composeTurnPrompt, readRolePrompt } from './prompt.ts';
import { buildTurnReport } from './report.ts';
import { runCli, type RunCliResult } from './run-cli.ts';
import { clearSessionId, readSessionId, writeSessionId } from './session.ts';
import { evaluateSurface, type SurfaceResult } from './surface.ts';
import { promptEvent, transcriptEventsOf } from './transcript.ts';
import { TurnStream } from './turn-stream.ts';

export interface BackoffOptions { initialMs: number; maxMs: number; factor: number }

export interface HarnessOptions {
  agent: string;
  /** The controller's base URL as the agent reaches it (for the generated --mcp-config). */
  url: string;
  /** The agent's token, read at every turn (it may be rotated). */
  token: () => Promise<string>;
  stateDir: string;
  /** The agent CLI; default `claude`. */
  cli?: string;
  /** Put before the turn's argv (e.g. a script for an interpreter given as cli). */
  cliArgs?: string[];
  /** The CLI's working directory; stable, since the CLI files sessions by directory. Default <stateDir>/work. */
  workDir?: string;
  /** Base environment of the CLI; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** No output for this long → the turn is `hung` and killed. Default 10 min. */
  hangMs?: number;
  killGraceMs?: number;
  /** How long one recv long-poll waits (0–300 s). */
  recvWaitSeconds?: number;
  backoff?: Partial<BackoffOptions>;
  /** Stop after this many reported turns (tests, one-shot runs). */
  maxTurns?: number;
  signal?: AbortSignal;
  evaluate?: (configDir: string) => Promise<SurfaceResult>;
  log?: (line: string) => void;
}

export interface HarnessSummary { turns: number; reports: TurnReport[] }

const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 5_000, maxMs: 5 * 60_000, factor: 2 };
export const DEFAULT_HANG_MS = 10 * 60_000;
const RESUME_MISSING = /no conversation found/i;

export function backoffDelay(failures: number, b: BackoffOptions): number {
  return Math.min(b.maxMs, b.initialMs * b.factor ** Math.max(0, failures - 1));
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() { clearTimeout(t); signal?.removeEventListener('abort', done); resolve(); }
    signal?.addEventListener('abort', done, { once: true });
  });
}

function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined, fallback: T): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.resolve(fallback);
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(fallback);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then((v) => { signal.removeEventListener('abort', onAbort); resolve(v); },
      (e) => { signal.removeEventListener('abort', onAbort); reject(e); });
  });
}

interface AttemptResult { classification: Classification; report: TurnReport; resumeMissing: boolean }

/**
 * The agent's turn loop: wait on recv for work → one CLI turn → report → repeat.
 * Messages stay pending until a turn handles them: a failure or hang retries them
 * after an exponential backoff; an auth failure waits for a new message (no retry
 * loop) and then runs the old ones with it; a context overflow starts a fresh
 * session seeded from the notes and retries once.
 */
export async function runHarness(io: HarnessIO, opts: HarnessOptions): Promise<HarnessSummary> {
  const backoff = { ...DEFAULT_BACKOFF, ...opts.backoff };
  const log = opts.log ?? (() => {});
  const evaluate = opts.evaluate ?? ((dir: string) => evaluateSurface(dir));
  const workDir = opts.workDir ?? path.join(opts.stateDir, 'work');
  const cli = opts.cli ?? 'claude';
  const signal = opts.signal;
  const reports: TurnReport[] = [];
  let surfaceCache: { key: string; value: SurfaceResult } | undefined;
  await mkdir(workDir, { recursive: true });

  // The surface is evaluated again only when the files it comes from change.
  async function surfaceOf(configDir: string): Promise<SurfaceResult> {
    const h = createHash('sha256');
    for (const f of ['agent.nix', 'hyperhive.json']) {
      h.update(f + '\0');
      try { h.update((await readConfigFile(configDir, f)) ?? '\0absent'); } catch { h.update('\0unreadable'); }
    }
    const key = `${configDir}\0${h.digest('hex')}`;
    if (surfaceCache?.key === key) return surfaceCache.value;
    const value = await evaluate(configDir);
    for (const w of value.warnings) log(`surface: ${w}`);
    surfaceCache = { key, value };
    return value;
  }

  async function report(r: TurnReport): Promise<void> {
    reports.push(r);
    log(`turn ${reports.length}: ${r.class}${r.error ? ` (${r.error})` : ''}`);
    try { await io.reportTurn(r); } catch (e) { log(`turn report failed: ${(e as Error).message}`); }
  }

  /**
   * The CLI asks whether a tool call may run (`can_use_tool`): the controller answers (the surface at
   * once, else an operator or its timeout), and that answer is handed back unchanged in meaning. An
   * allow carries the call's own input (`updatedInput` is required; `{}` would wipe the arguments).
   */
  async function answerControl(req: Record<string, unknown>, stream: ParsedStream, cancel: AbortSignal, messages: Message[]): Promise<Record<string, unknown>> {
    if (req.subtype !== 'can_use_tool') throw new Error(`hyperhive's harness answers no ${String(req.subtype)} requests`);
    const toolName = String(req.tool_name ?? '');
    const input = req.input ?? {};
    if (!io.askTool) return { behavior: 'deny', message: `${toolName} is not allowed by this agent's surface, and this harness cannot ask an operator` };
    const q: ToolQuestion = {
      toolName, input, toolUseId: typeof req.tool_use_id === 'string' ? req.tool_use_id : null, cwd: workDir,
      context: {
        messages: messages.map((m) => ({ from: m.from, body: m.body.slice(0, 4000) })),
        turn: [...stream.assistantText.slice(-10).map((text) => ({ type: 'text' as const, text: text.slice(0, 2000) })), ...stream.toolUses.slice(-10).map((u) => ({ type: 'tool' as const, name: u.name, input: u.input }))],
      },
    };
    log(`tool: ${toolName} is not decided by the surface; asking the controller`);
    const started = Date.now();
    const ac = new AbortController();
    const stop = () => ac.abort();
    cancel.addEventListener('abort', stop, { once: true });
    signal?.addEventListener('abort', stop, { once: true });
    try {
      const d = await io.askTool(q, ac.signal);
      log(`tool: ${toolName} ${d.allow ? 'allowed' : `denied (${d.message})`} after ${Math.round((Date.now() - started) / 1000)} s`);
      return d.allow ? { behavior: 'allow', updatedInput: input } : { behavior: 'deny', message: d.message };
    } catch (e) {
      log(`tool: asking about ${toolName} failed: ${(e as Error).message}`);
      return { behavior: 'deny', message: `${toolName} was not run: the controller could not be asked (${(e as Error).message})` };
    } finally {
      cancel.removeEventListener('abort', stop);
      signal?.removeEventListener('abort', stop);
    }
  }

  async function attempt(messages: Message[], fresh: { session: boolean; seeded: boolean }): Promise<AttemptResult> {
    const startedAt = new Date();
    let model = '';
    let run: RunCliResult;
    // The turn in progress goes to the controller as it happens (the agent page's live view).
    const stream = io.postTurnEvents ? new TurnStream({ post: (b) => io.postTurnEvents!(b), key: randomUUID(), startedAt, log }) : null;
    const finish = async (r: TurnReport, c: Classification): Promise<TurnReport> => {
      if (!stream) return r;
      if (c.class !== 'ok') stream.push({ kind: 'error', at: Date.now(), message: `turn ${c.class}: ${c.reason}` });
      await stream.close();
      return { ...r, transcript: stream.key };
    };
    try {
      const live = await io.readLive();
      model = live.model;
      const config = await io.readConfig();
      const { surface } = await surfaceOf(config.configDir);
      const mcpFile = await writeMcpConfig(opts.stateDir, buildMcpConfig({ url: opts.url, token: await opts.token(), surface }));
      const resume = fresh.session ? undefined : await readSessionId(opts.stateDir);
      const systemPrompt = composeSystemPrompt({ agent: opts.agent, prompt: config.prompt, role: await readRolePrompt(opts.agent), notes: live.notes });
      const prompt = composeTurnPrompt(messages, { freshSession: fresh.seeded });
      const argv = buildTurnArgv({
        prompt,
        model, mcpConfigFile: mcpFile, systemPrompt,
        allow: surface.tools.allow, deny: surface.tools.deny, resume,
      });
      const env: NodeJS.ProcessEnv = { ...(opts.env ?? process.env) };
      for (const [k, v] of Object.entries(surface.env)) if (!k.startsWith('HYPERHIVE_')) env[k] = v;
      // Connect MCP servers before the first model call, so hyperhive's tools are there from the start.
      env.MCP_CONNECTION_NONBLOCKING ??= '0';
      log(`turn: ${cli} (model ${model}${resume ? `, resuming ${resume}` : ', new session'}, ${messages.length} message(s))`);
      stream?.push(promptEvent(prompt, messages.length, Date.now()));
      run = await runCli({
        command: cli, args: [...(opts.cliArgs ?? []), ...argv], cwd: workDir, env, input: turnInput(prompt),
        hangMs: opts.hangMs ?? DEFAULT_HANG_MS, killGraceMs: opts.killGraceMs, signal,
        onEvent: stream ? (ev) => { for (const e of transcriptEventsOf(ev, Date.now())) stream.push(e); } : undefined,
        onControl: (req, parsed, cancel) => answerControl(req, parsed, cancel, messages),
      });
    } catch (e) {
      // Nothing ran (unreadable live/config, a surface that does not evaluate, ...): a failure like any other.
      const classification: Classification = { class: 'failure', reason: (e as Error).message };
      const r = await finish(buildTurnReport({
        classification, stream: { toolUses: [], toolCounts: {}, sends: [], assistantErrors: [], assistantText: [], lines: 0, garbageLines: 0 },
        startedAt, durationMs: Date.now() - startedAt.getTime(), model, messages: messages.length, exitCode: null,
      }), classification);
      await report(r);
      return { classification, report: r, resumeMissing: false };
    }
    const classification = classifyTurn(run);
    if (signal?.aborted) {
      // Stopped by our own shutdown: not the agent's failure. The bus redelivers the
      // messages (they stay un-acked until the next recv), so the turn is not lost.
      log('turn: interrupted by shutdown; not reported');
      // Shutting down (or orphaned): a last try, briefly; the controller may be gone.
      await stream?.close(1000);
      return { classification, report: buildTurnReport({ classification, stream: run.stream, startedAt, durationMs: run.durationMs, model, messages: messages.length, exitCode: run.exitCode }), resumeMissing: false };
    }
    const resumeMissing = !fresh.session && [...(run.stream.result?.errors ?? []), run.stderr ?? ''].some((t) => RESUME_MISSING.test(t));
    if (run.stream.garbageLines) log(`turn: ${run.stream.garbageLines} line(s) of the CLI's output were not stream-json`);
    const sessionId = run.stream.result?.sessionId ?? run.stream.sessionId;
    if (resumeMissing || classification.class === 'context-overflow') await clearSessionId(opts.stateDir);
    // An auth failure's session holds nothing worth resuming (the CLI did not get to the model).
    else if (sessionId && classification.class !== 'auth') await writeSessionId(opts.stateDir, sessionId);
    const r = await finish(buildTurnReport({ classification, stream: run.stream, startedAt, durationMs: run.durationMs, model, messages: messages.length, exitCode: run.exitCode }), classification);
    await report(r);
    return { classification, report: r, resumeMissing };
  }

  let pending: Message[] = [];
  let waitForNew = false;
  let failures = 0;
  const done = () => signal?.aborted || (opts.maxTurns !== undefined && reports.length >= opts.maxTurns);

  while (!done()) {
    if (pending.length === 0 || waitForNew) {
      let got: Message[];
      try {
        got = await untilAborted(io.recv(opts.recvWaitSeconds ?? 60), signal, []);
      } catch (e) {
        failures++;
        const delay = backoffDelay(failures, backoff);
        log(`recv failed (${(e as Error).message}); retrying in ${delay} ms`);
        await abortableSleep(delay, signal);
        continue;
      }
      if (got.length === 0) continue;
      failures = waitForNew ? 0 : failures;
      waitForNew = false;
      pending = [...pending, ...got];
    }

    let res = await attempt(pending, { session: false, seeded: false });
    if (res.resumeMissing && !done()) {
      log('turn: the saved session is gone; starting a new one');
      res = await attempt(pending, { session: true, seeded: false });
    }
    if (res.classification.class === 'context-overflow' && !done()) {
      log('turn: context overflow; retrying once in a fresh session seeded from the notes');
      res = await attempt(pending, { session: true, seeded: true });
      if (res.classification.class === 'context-overflow') {
        // A fresh session overflowing too cannot be helped by retrying: drop these messages.
        log(`turn: context overflow in a fresh session too; ${pending.length} message(s) dropped`);
        pending = [];
        failures = 0;
        continue;
      }
    }
    switch (res.classification.class) {
      case 'ok':
        pending = [];
        failures = 0;
        break;
      case 'auth':
        // No retry loop: the controller shows the agent Stalled; a new message (or a resume) brings us back.
        waitForNew = true;
        failures = 0;
        break;
      default: {
        failures++;
        const delay = backoffDelay(failures, backoff);
        log(`turn: ${res.classification.class}; retrying in ${delay} ms`);
        if (!done()) await abortableSleep(delay, signal);
      }
    }
  }
  return { turns: reports.length, reports };
}
