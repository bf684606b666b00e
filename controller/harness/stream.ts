import { StringDecoder } from 'node:string_decoder';

// Parser for the claude CLI's `--output-format stream-json --verbose` output: one JSON
// object per line. Fed incrementally (chunks may split lines) so the loop can watch for
// silence while a turn runs; tolerant of anything that is not a JSON object line.

export interface StreamMcpServer { name: string; status: string }
export interface StreamInit {
  sessionId?: string;
  model?: string;
  tools: string[];
  mcpServers: StreamMcpServer[];
  version?: string;
}
export interface StreamToolUse { name: string; id?: string; input: unknown }
export interface StreamUsage { inputTokens: number; outputTokens: number; cacheReadTokens: number; cacheCreationTokens: number }
export interface StreamResult {
  subtype: string;
  isError: boolean;
  terminalReason?: string;
  stopReason?: string;
  costUsd: number;
  usage: StreamUsage;
  numTurns: number;
  permissionDenials: unknown[];
  durationMs: number;
  result?: string;
  sessionId?: string;
  apiErrorStatus?: number | null;
  errors: string[];
}
export interface ParsedStream {
  init?: StreamInit;
  toolUses: StreamToolUse[];
  toolCounts: Record<string, number>;
  /** Recipients of mcp__hyperhive__send calls (undefined where the call named none). */
  sends: (string | undefined)[];
  /** `error` fields of assistant messages, e.g. "authentication_failed". */
  assistantErrors: string[];
  /** Text blocks of assistant messages, last ones kept (for classification and logs). */
  assistantText: string[];
  result?: StreamResult;
  /** The last session id seen anywhere (it changes on every resume). */
  sessionId?: string;
  lines: number;
  garbageLines: number;
}

export const HYPERHIVE_SEND_TOOL = 'mcp__hyperhive__send';
const MAX_TEXTS = 20;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export function emptyParsedStream(): ParsedStream {
  return { toolUses: [], toolCounts: {}, sends: [], assistantErrors: [], assistantText: [], lines: 0, garbageLines: 0 };
}

function usageOf(v: unknown): StreamUsage {
  const u = isObj(v) ? v : {};
  return {
    inputTokens: num(u.input_tokens), outputTokens: num(u.output_tokens),
    cacheReadTokens: num(u.cache_read_input_tokens), cacheCreationTokens: num(u.cache_creation_input_tokens),
  };
}

/** Every JSON object line as parsed, for whoever watches the turn as it runs (the live transcript). */
export type StreamObjectListener = (ev: Record<string, unknown>) => void;

/** Applies one line to the parse state; returns false when the line was garbage. */
export function applyStreamLine(state: ParsedStream, line: string, onObject?: StreamObjectListener): boolean {
  const trimmed = line.trim();
  if (trimmed === '') return true;
  state.lines++;
  let ev: unknown;
  try { ev = JSON.parse(trimmed); } catch { state.garbageLines++; return false; }
  if (!isObj(ev) || typeof ev.type !== 'string') { state.garbageLines++; return false; }
  // A watcher's failure is its own: the parse (and the turn's report) goes on.
  if (onObject) { try { onObject(ev); } catch { /* ignore */ } }
  const sid = str(ev.session_id);
  if (sid) state.sessionId = sid;

  if (ev.type === 'system' && ev.subtype === 'init') {
    state.init = {
      sessionId: sid,
      model: str(ev.model),
      tools: Array.isArray(ev.tools) ? ev.tools.filter((t): t is string => typeof t === 'string') : [],
      mcpServers: Array.isArray(ev.mcp_servers)
        ? ev.mcp_servers.filter(isObj).map((s) => ({ name: String(s.name ?? ''), status: String(s.status ?? 'unknown') }))
        : [],
      version: str(ev.claude_code_version),
    };
  } else if (ev.type === 'assistant') {
    const err = str(ev.error);
    if (err) state.assistantErrors.push(err);
    const msg = isObj(ev.message) ? ev.message : {};
    const content = Array.isArray(msg.content) ? msg.content : [];
    for (const block of content) {
      if (!isObj(block)) continue;
      if (block.type === 'tool_use' && typeof block.name === 'string') {
        state.toolUses.push({ name: block.name, id: str(block.id), input: block.input });
        state.toolCounts[block.name] = (state.toolCounts[block.name] ?? 0) + 1;
        if (block.name === HYPERHIVE_SEND_TOOL) {
          const input = isObj(block.input) ? block.input : {};
          state.sends.push(str(input.to) ?? str(input.recipient));
        }
      } else if (block.type === 'text' && typeof block.text === 'string') {
        state.assistantText.push(block.text);
        if (state.assistantText.length > MAX_TEXTS) state.assistantText.shift();
      }
    }
  } else if (ev.type === 'result') {
    state.result = {
      subtype: str(ev.subtype) ?? 'unknown',
      isError: ev.is_error === true,
      terminalReason: str(ev.terminal_reason),
      stopReason: str(ev.stop_reason),
      costUsd: num(ev.total_cost_usd),
      usage: usageOf(ev.usage),
      numTurns: num(ev.num_turns),
      permissionDenials: Array.isArray(ev.permission_denials) ? ev.permission_denials : [],
      durationMs: num(ev.duration_ms),
      result: str(ev.result),
      sessionId: sid,
      apiErrorStatus: typeof ev.api_error_status === 'number' ? ev.api_error_status : null,
      errors: Array.isArray(ev.errors) ? ev.errors.map(String) : [],
    };
  }
  return true;
}

/** Incremental parser: push stdout chunks as they come, end() once the stream closes. */
export class StreamParser {
  readonly state: ParsedStream = emptyParsedStream();
  private buf = '';
  // A chunk may end inside a multi-byte character.
  private decoder = new StringDecoder('utf8');
  /**
   * `onObject` sees every parsed object (the live transcript); `onLine` every complete line after it was
   * applied (the control protocol rides on the same stream).
   */
  constructor(private readonly onObject?: StreamObjectListener, private readonly onLine?: (line: string, state: ParsedStream) => void) {}
  push(chunk: string | Buffer): void {
    this.buf += typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      applyStreamLine(this.state, line, this.onObject);
      this.onLine?.(line, this.state);
    }
  }
  end(): ParsedStream {
    this.buf += this.decoder.end();
    if (this.buf.length) { applyStreamLine(this.state, this.buf, this.onObject); this.onLine?.(this.buf, this.state); }
    this.buf = '';
    return this.state;
  }
}

export function parseStream(text: string): ParsedStream {
  const p = new StreamParser();
  p.push(text);
  return p.end();
}
