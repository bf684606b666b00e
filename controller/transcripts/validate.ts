import { HyperhiveError } from '../errors.ts';
import { MAX_EVENT_BYTES, TRANSCRIPT_KINDS, type TranscriptEvent, type TranscriptKind, type TurnEventsBody } from './types.ts';

// What a harness posts to `POST /api/agents/<own>/turns/events`, checked field by field; pure.
// One 400 names every bad event; an event over MAX_EVENT_BYTES is 413.

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string';
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const isBool = (v: unknown): v is boolean => typeof v === 'boolean';
const orNull = (f: (v: unknown) => boolean) => (v: unknown) => v === null || f(v);
const USAGE = ['inputTokens', 'outputTokens', 'cacheReadTokens', 'cacheCreationTokens'];

/** The fields each kind must carry (beyond kind and at), with their checks. */
const FIELDS: Record<TranscriptKind, Record<string, (v: unknown) => boolean>> = {
  prompt: { text: isStr, messages: isNum },
  init: { model: orNull(isStr), sessionId: orNull(isStr), tools: isNum, mcpServers: (v) => Array.isArray(v) && v.length <= 100 && v.every((s) => isObj(s) && isStr(s.name) && isStr(s.status)) },
  text: { text: isStr },
  thinking: { text: isStr },
  tool_use: { id: orNull(isStr), name: (v) => isStr(v) && v.length > 0 && v.length <= 200, input: () => true },
  tool_result: { toolUseId: orNull(isStr), isError: isBool, content: isStr },
  error: { message: isStr },
  result: {
    subtype: isStr, isError: isBool, costUsd: isNum, numTurns: isNum, durationMs: isNum, text: orNull(isStr),
    usage: (v) => isObj(v) && USAGE.every((k) => isNum(v[k])),
  },
};

export const TURN_KEY = /^[A-Za-z0-9_-]{1,100}$/;

function checkEvent(e: unknown, i: number, bad: string[]): TranscriptEvent | null {
  if (!isObj(e)) { bad.push(`events[${i}] (an object)`); return null; }
  const kind = e.kind as TranscriptKind;
  if (!TRANSCRIPT_KINDS.includes(kind)) { bad.push(`events[${i}].kind (one of ${TRANSCRIPT_KINDS.join(', ')})`); return null; }
  const wrong = Object.entries(FIELDS[kind]).filter(([k, ok]) => !(k in e) || !ok(e[k])).map(([k]) => k);
  if (!isNum(e.at)) wrong.unshift('at');
  if (e.truncated !== undefined && !isNum(e.truncated)) wrong.push('truncated');
  if (wrong.length) { bad.push(`events[${i}] (${kind}): ${wrong.join(', ')}`); return null; }
  // Only the fields of its kind are kept: a newer harness may send more, none of it is stored blind.
  const out: Record<string, unknown> = { kind, at: e.at };
  for (const k of Object.keys(FIELDS[kind])) out[k] = e[k];
  if (e.truncated) out.truncated = e.truncated;
  return out as unknown as TranscriptEvent;
}

export function validateTurnEvents(body: unknown): TurnEventsBody {
  if (!isObj(body)) throw new HyperhiveError('bad_request', 'turn events are a JSON object {turn, startedAt, events: [...]}');
  const bad: string[] = [];
  if (!isStr(body.turn) || !TURN_KEY.test(body.turn)) bad.push('turn (1 to 100 letters, digits, - or _)');
  if (!isStr(body.startedAt) || !Number.isFinite(Date.parse(body.startedAt))) bad.push('startedAt (an ISO 8601 time)');
  if (!Array.isArray(body.events) || body.events.length > 1000) bad.push('events (a list of at most 1000 events)');
  const events: TranscriptEvent[] = [];
  if (Array.isArray(body.events) && body.events.length <= 1000) {
    body.events.forEach((e, i) => {
      const ok = checkEvent(e, i, bad);
      if (!ok) return;
      const bytes = Buffer.byteLength(JSON.stringify(ok));
      if (bytes > MAX_EVENT_BYTES) throw new HyperhiveError('too_large', `events[${i}] is ${bytes} bytes; one transcript event is at most ${MAX_EVENT_BYTES} (the harness caps its texts)`);
      events.push(ok);
    });
  }
  if (bad.length) throw new HyperhiveError('bad_request', `invalid turn events: ${bad.slice(0, 20).join('; ')}${bad.length > 20 ? `; and ${bad.length - 20} more` : ''}`);
  return { turn: body.turn as string, startedAt: body.startedAt as string, events };
}
