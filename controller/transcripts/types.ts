import type { TurnUsage } from '../harness/io.ts';

// A turn's transcript: what the harness saw of the CLI's stream-json, one event per thing that
// happened, in order. The harness builds these (controller/harness/transcript.ts) and posts them as
// they happen; the controller stores, prunes and serves them. Every string is capped where it is
// made: `truncated` counts the characters cut from the longest field of the event.

export type TranscriptKind = 'prompt' | 'init' | 'text' | 'thinking' | 'tool_use' | 'tool_result' | 'error' | 'result';
export const TRANSCRIPT_KINDS: readonly TranscriptKind[] = ['prompt', 'init', 'text', 'thinking', 'tool_use', 'tool_result', 'error', 'result'];

interface Base<K extends TranscriptKind> { kind: K; /** ms since the epoch, the harness's clock. */ at: number; truncated?: number }
export type TranscriptEvent =
  /** What the turn was asked: the messages it answers, as the CLI got them. */
  | (Base<'prompt'> & { text: string; messages: number })
  | (Base<'init'> & { model: string | null; sessionId: string | null; tools: number; mcpServers: { name: string; status: string }[] })
  | (Base<'text'> & { text: string })
  | (Base<'thinking'> & { text: string })
  | (Base<'tool_use'> & { id: string | null; name: string; input: unknown })
  | (Base<'tool_result'> & { toolUseId: string | null; isError: boolean; content: string })
  | (Base<'error'> & { message: string })
  | (Base<'result'> & { subtype: string; isError: boolean; costUsd: number; usage: TurnUsage; numTurns: number; durationMs: number; text: string | null });

/** An event as stored: numbered from 1 within its turn. */
export type StoredTranscriptEvent = TranscriptEvent & { seq: number };

/** `POST /api/agents/<own name>/turns/events`: a batch of the turn in progress. */
export interface TurnEventsBody {
  /** The harness's key of the attempt (a UUID); the turn report names it as `transcript`. */
  turn: string;
  /** ISO 8601: when the attempt started. */
  startedAt: string;
  events: TranscriptEvent[];
}

export type TranscriptStatus = 'running' | 'done' | 'interrupted';

/** A turn as listed: what its report said, and how much of it was kept. */
export interface TurnSummary {
  id: number;
  agent: string;
  key: string;
  startedAt: number;
  endedAt: number | null;
  status: TranscriptStatus;
  class: string | null;
  error: string | null;
  model: string | null;
  durationMs: number | null;
  costUsd: number | null;
  tools: Record<string, number>;
  usage: TurnUsage | null;
  messages: number | null;
  /** Events kept, their bytes, and events dropped past the per-agent byte budget. */
  events: number;
  bytes: number;
  dropped: number;
}

export interface TurnTranscript extends TurnSummary { transcript: StoredTranscriptEvent[] }

/** Longest text field kept in an event, in characters (a tool's output, an assistant message). */
export const MAX_TEXT_CHARS = 64 * 1024;
/** A tool input's JSON beyond this many characters is kept as a preview. */
export const MAX_INPUT_CHARS = 128 * 1024;
/** The controller refuses an event larger than this (JSON bytes). */
export const MAX_EVENT_BYTES = 512 * 1024;
/** The harness sends at most this many JSON bytes in one post (the API takes 1 MiB bodies). */
export const MAX_BATCH_BYTES = 768 * 1024;
/** Per agent, the default retention: the last 50 turns or 20 MiB, whichever is smaller. */
export const DEFAULT_RETENTION = { maxTurns: 50, maxBytes: 20 * 1024 * 1024 };
