import { MAX_INPUT_CHARS, MAX_TEXT_CHARS, type TranscriptEvent } from '../transcripts/types.ts';

// The turn's stream-json objects as transcript events; pure. Assistant messages carry text,
// thinking and tool_use blocks; "user" messages carry the tool results; `result` ends the turn.

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** `s` cut to `max` characters, and how many were cut. */
export function cap(s: string, max = MAX_TEXT_CHARS): { text: string; cut: number } {
  return s.length <= max ? { text: s, cut: 0 } : { text: s.slice(0, max), cut: s.length - max };
}

/**
 * A tool's input as kept: strings capped one by one (an Edit's old and new text stay readable), and
 * an input whose JSON is still too long replaced by a preview of it.
 */
export function capInput(input: unknown): { input: unknown; cut: number } {
  let cut = 0;
  const walk = (v: unknown, depth: number): unknown => {
    if (typeof v === 'string') { const c = cap(v, MAX_TEXT_CHARS / 2); cut = Math.max(cut, c.cut); return c.text; }
    if (depth > 20) return null;
    if (Array.isArray(v)) return v.slice(0, 1000).map((x) => walk(x, depth + 1));
    if (isObj(v)) return Object.fromEntries(Object.entries(v).slice(0, 1000).map(([k, x]) => [k, walk(x, depth + 1)]));
    return v;
  };
  const capped = walk(input, 0);
  const json = JSON.stringify(capped) ?? 'null';
  if (json.length <= MAX_INPUT_CHARS) return { input: capped, cut };
  return { input: { '[preview]': json.slice(0, MAX_INPUT_CHARS) }, cut: Math.max(cut, json.length - MAX_INPUT_CHARS) };
}

/** A tool result's content as text: a string, or text blocks joined (other blocks named). */
export function resultText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return content === undefined || content === null ? '' : JSON.stringify(content);
  return content.map((b) => (isObj(b) && b.type === 'text' && typeof b.text === 'string' ? b.text : isObj(b) ? `[${String(b.type ?? 'block')}]` : String(b))).join('\n');
}

const withCut = <T extends TranscriptEvent>(e: T, cut: number): T => (cut > 0 ? { ...e, truncated: cut } : e);

/** What the turn was asked (the prompt the CLI gets), capped like every text. */
export function promptEvent(prompt: string, messages: number, at: number): TranscriptEvent {
  const c = cap(prompt);
  return withCut({ kind: 'prompt', at, text: c.text, messages }, c.cut);
}

/** The transcript events one stream-json object stands for (none for lines of no interest). */
export function transcriptEventsOf(ev: Record<string, unknown>, at: number): TranscriptEvent[] {
  const out: TranscriptEvent[] = [];
  if (ev.type === 'system' && ev.subtype === 'init') {
    out.push({
      kind: 'init', at, model: str(ev.model), sessionId: str(ev.session_id),
      tools: Array.isArray(ev.tools) ? ev.tools.length : 0,
      mcpServers: Array.isArray(ev.mcp_servers) ? ev.mcp_servers.filter(isObj).slice(0, 50).map((s) => ({ name: String(s.name ?? '').slice(0, 200), status: String(s.status ?? 'unknown').slice(0, 50) })) : [],
    });
  } else if (ev.type === 'assistant') {
    const err = str(ev.error);
    if (err) out.push({ kind: 'error', at, message: cap(err).text });
    const content = isObj(ev.message) && Array.isArray(ev.message.content) ? ev.message.content : [];
    for (const b of content) {
      if (!isObj(b)) continue;
      if (b.type === 'text' && typeof b.text === 'string') { const c = cap(b.text); out.push(withCut({ kind: 'text', at, text: c.text }, c.cut)); }
      else if (b.type === 'thinking' && typeof b.thinking === 'string') { const c = cap(b.thinking); out.push(withCut({ kind: 'thinking', at, text: c.text }, c.cut)); }
      else if (b.type === 'tool_use' && typeof b.name === 'string') {
        const c = capInput(b.input);
        out.push(withCut({ kind: 'tool_use', at, id: str(b.id), name: b.name.slice(0, 200), input: c.input }, c.cut));
      }
    }
  } else if (ev.type === 'user') {
    const content = isObj(ev.message) && Array.isArray(ev.message.content) ? ev.message.content : [];
    for (const b of content) {
      if (!isObj(b) || b.type !== 'tool_result') continue;
      const c = cap(resultText(b.content));
      out.push(withCut({ kind: 'tool_result', at, toolUseId: str(b.tool_use_id), isError: b.is_error === true, content: c.text }, c.cut));
    }
  } else if (ev.type === 'result') {
    const u = isObj(ev.usage) ? ev.usage : {};
    const text = str(ev.result);
    const c = cap(text ?? '');
    out.push(withCut({
      kind: 'result', at, subtype: str(ev.subtype) ?? 'unknown', isError: ev.is_error === true, costUsd: num(ev.total_cost_usd),
      usage: { inputTokens: num(u.input_tokens), outputTokens: num(u.output_tokens), cacheReadTokens: num(u.cache_read_input_tokens), cacheCreationTokens: num(u.cache_creation_input_tokens) },
      numTurns: num(ev.num_turns), durationMs: num(ev.duration_ms), text: text === null ? null : c.text,
    }, c.cut));
    if (Array.isArray(ev.errors)) for (const e of ev.errors.slice(0, 20)) out.push({ kind: 'error', at, message: cap(String(e)).text });
  }
  return out;
}
