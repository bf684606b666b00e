import { readFile } from 'node:fs/promises';
import { MODEL_PATTERN } from '../names.ts';
import { HyperhiveError } from '../errors.ts';
import { readConfigText } from './config-file.ts';
import type { HarnessIO, Message, ToolDecision, ToolQuestion, TurnReport } from './io.ts';
import type { TurnEventsBody } from '../transcripts/types.ts';
import { mcpToolCaller, type McpToolCaller } from './mcp-client.ts';

export interface HttpHarnessIOOptions {
  url: string;
  tokenFile: string;
  agent: string;
  configDir: string;
  stateDir: string;
  /** For tests: a caller other than the SDK client on <url>/mcp. */
  caller?: McpToolCaller;
  /** Called on every answer from the controller, refusals included (the orphan watchdog's sign of life). */
  onAnswer?: () => void;
  /** How long one long poll of a tool request waits (default 50 s; $HYPERHIVE_TOOL_POLL_MS). */
  toolPollMs?: number;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export async function readToken(tokenFile: string): Promise<string> {
  const token = (await readFile(tokenFile, 'utf8')).trim();
  if (!token) throw new HyperhiveError('unauthorized', `token file ${tokenFile} is empty`);
  return token;
}

/** recv's answer as messages, whether it came as an array, {messages: [...]} or JSON text. */
export function toMessages(value: unknown): Message[] {
  const list = Array.isArray(value) ? value : isObj(value) && Array.isArray(value.messages) ? value.messages : [];
  return list.filter(isObj).map((m) => ({
    id: typeof m.id === 'number' || typeof m.id === 'string' ? m.id : String(m.id),
    from: String(m.from ?? ''),
    to: String(m.to ?? ''),
    kind: String(m.kind ?? 'message'),
    body: typeof m.body === 'string' ? m.body : JSON.stringify(m.body ?? ''),
    // The bus stores epoch milliseconds; the prompt shows ISO 8601.
    createdAt: typeof (m.createdAt ?? m.created_at) === 'number' ? new Date((m.createdAt ?? m.created_at) as number).toISOString() : String(m.createdAt ?? m.created_at ?? ''),
  }));
}

/** A file's text out of read_config's answer (structured, JSON text with `content`, or plain text). */
export function toFileText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (isObj(value) && typeof value.content === 'string') return value.content;
  if (isObj(value) && typeof value.text === 'string') return value.text;
  throw new HyperhiveError('bad_request', 'read_config answered without file content');
}

/** One long poll of a tool request waits this long at most (the controller caps it at 60 s). */
export const TOOL_POLL_MS = 50_000;

/** Waits `ms`, or less when `signal` aborts. */
const pause = (ms: number, signal: AbortSignal): Promise<void> => new Promise((resolve) => {
  const t = setTimeout(done, ms);
  function done() { clearTimeout(t); signal.removeEventListener('abort', done); resolve(); }
  signal.addEventListener('abort', done, { once: true });
});

/** HarnessIO against the Contract: MCP tools on <url>/mcp, turn reports on the HTTP API. */
export function httpHarnessIO(o: HttpHarnessIOOptions): HarnessIO & { close(): Promise<void> } {
  const token = () => readToken(o.tokenFile);
  const caller = o.caller ?? mcpToolCaller({ url: o.url, token, name: `hyperhive-harness-${o.agent}` });
  const answered = () => o.onAnswer?.();
  // A tool's error is an answer too (the controller is there); a transport failure is not.
  const mcp: McpToolCaller = {
    call: (tool, args, timeoutMs) => caller.call(tool, args, timeoutMs).then(
      (v) => { answered(); return v; },
      (e) => { if (e instanceof HyperhiveError) answered(); throw e; }),
    close: () => caller.close(),
  };
  const readLiveFile = async (file: string): Promise<string | undefined> => {
    try { return toFileText(await mcp.call('read_config', { path: file, ref: 'live' })); } catch (e) {
      // A missing notes.md is an empty memory, not an error; any other failure is.
      if (e instanceof HyperhiveError && /not[ _]found|no such|does not exist/i.test(e.message)) return undefined;
      throw e;
    }
  };
  return {
    async recv(waitSeconds) {
      const wait = Math.max(0, Math.min(300, Math.round(waitSeconds)));
      return toMessages(await mcp.call('recv', { wait_seconds: wait }, (wait + 30) * 1000));
    },
    async readLive() {
      const [model, notes] = await Promise.all([readLiveFile('model'), readLiveFile('notes.md')]);
      const m = model?.trim();
      if (!m) throw new HyperhiveError('not_found', `agent ${o.agent} has no model on live`);
      // Refused at receive time; checked again here because it becomes an argv value of the CLI.
      if (!MODEL_PATTERN.test(m)) throw new HyperhiveError('invalid_model', `agent ${o.agent}'s model on live is not a model name (${JSON.stringify(m.slice(0, 40))}): it must match ${MODEL_PATTERN.source}`);
      return { model: m, notes: notes ?? '' };
    },
    async readConfig() {
      // A linked or unreadable prompt fails the turn with the reason; only an absent one is no prompt.
      const prompt = (await readConfigText(o.configDir, 'prompt.md')) ?? '';
      return { configDir: o.configDir, prompt };
    },
    async reportTurn(report: TurnReport) {
      const res = await fetch(`${o.url.replace(/\/+$/, '')}/api/agents/${encodeURIComponent(o.agent)}/turns`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await token()}` },
        body: JSON.stringify(report),
      });
      answered();
      if (!res.ok) {
        const text = (await res.text().catch(() => '')).slice(0, 500);
        throw new HyperhiveError('internal', `turn report refused: HTTP ${res.status} ${text}`);
      }
    },
    async postTurnEvents(body: TurnEventsBody) {
      const res = await fetch(`${o.url.replace(/\/+$/, '')}/api/agents/${encodeURIComponent(o.agent)}/turns/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await token()}` },
        body: JSON.stringify(body),
        // A controller that takes the connection and never answers must not hold the turn's events.
        signal: AbortSignal.timeout(10_000),
      });
      answered();
      if (!res.ok) {
        const text = (await res.text().catch(() => '')).slice(0, 500);
        throw new HyperhiveError('internal', `turn events refused: HTTP ${res.status} ${text}`, { status: res.status });
      }
      await res.arrayBuffer().catch(() => undefined);
    },

    /**
     * POST the question, then long-poll its request until it is decided: each poll is bounded, so the
     * operator's whole time (the controller's timeout) never rides on one HTTP request. A controller
     * that is away is asked again (the same tool_use_id finds the same request); one that refuses
     * answers a deny with its reason.
     */
    async askTool(q: ToolQuestion, signal: AbortSignal): Promise<ToolDecision> {
      const base = `${o.url.replace(/\/+$/, '')}/api/agents/${encodeURIComponent(o.agent)}/tool-requests`;
      const poll = Math.max(0, Math.min(60_000, o.toolPollMs ?? TOOL_POLL_MS));
      const call = async (url: string, body?: unknown): Promise<Record<string, unknown>> => {
        for (let failures = 0; ; failures++) {
          if (signal.aborted) throw new Error('the turn ended before the answer came');
          let res: Response;
          try {
            res = await fetch(url, {
              method: body === undefined ? 'GET' : 'POST', signal: AbortSignal.any([signal, AbortSignal.timeout(poll + 30_000)]),
              headers: { authorization: `Bearer ${await token()}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
              body: body === undefined ? undefined : JSON.stringify(body),
            });
          } catch (e) {
            if (signal.aborted) throw new Error('the turn ended before the answer came');
            await pause(Math.min(30_000, 1000 * 2 ** Math.min(failures, 5)), signal);
            continue;
          }
          answered();
          const text = await res.text();
          let json: Record<string, unknown> = {};
          try { json = JSON.parse(text); } catch { /* below */ }
          if (res.status >= 500) { await pause(Math.min(30_000, 1000 * 2 ** Math.min(failures, 5)), signal); continue; }
          if (!res.ok) {
            const err = (json.error ?? {}) as { message?: string };
            return { status: 'deny', message: `the controller refused the tool request (HTTP ${res.status}): ${err.message ?? text.slice(0, 300)}` };
          }
          return json;
        }
      };
      let a = await call(base, { tool_name: q.toolName, input: q.input, tool_use_id: q.toolUseId, context: q.context, cwd: q.cwd, wait_ms: poll });
      while (a.status === 'pending' && typeof a.id === 'number') a = await call(`${base}/${a.id}?wait_ms=${poll}`);
      if (a.status === 'allow') return { allow: true };
      return { allow: false, message: typeof a.message === 'string' ? a.message : 'denied' };
    },
    close: () => mcp.close(),
  };
}
