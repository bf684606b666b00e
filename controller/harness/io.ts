import type { TurnEventsBody } from '../transcripts/types.ts';
import type { TurnClass } from './classify.ts';

/** A bus message as the MCP `recv` tool hands it out. */
export interface Message {
  id: string | number;
  from: string;
  to: string;
  kind: string;
  body: string;
  createdAt: string;
}

export type RecipientClass = 'peer' | 'operator' | 'manager' | 'system';

export interface TurnUsage { inputTokens: number; outputTokens: number; cacheReadTokens: number; cacheCreationTokens: number }

/** What the harness reports for every turn (`POST /api/agents/<name>/turns`, JSON). */
export interface TurnReport {
  class: TurnClass;
  /** ISO 8601. */
  startedAt: string;
  durationMs: number;
  /** tool_use counts per tool name. */
  tools: Record<string, number>;
  costUsd: number;
  usage: TurnUsage;
  numTurns: number;
  /** How many tool uses the CLI's permission rules denied. */
  permissionDenials: number;
  /** Why the turn was not ok (never contains the token). */
  error?: string;
  model: string;
  sessionId?: string;
  /** mcp__hyperhive__send calls by recipient class. */
  sentTo: Record<RecipientClass, number>;
  /** Messages this turn answered. */
  messages?: number;
  /** The CLI's exit code (null: killed or never started). */
  exitCode?: number | null;
  /** The key of the turn's streamed transcript (`POST …/turns/events`), when one was streamed. */
  transcript?: string;
}

/** A tool call the CLI's own rules did not decide, as the harness asks the controller about it. */
export interface ToolQuestion {
  toolName: string;
  input: unknown;
  toolUseId: string | null;
  /** What the operator reads beside it: the messages of this turn and the turn so far. */
  context: { messages: { from: string; body: string }[]; turn: ({ type: 'text'; text: string } | { type: 'tool'; name: string; input: unknown })[] };
  /** The CLI's working directory (relative path rules are relative to it). */
  cwd: string;
}

/** The controller's answer: the call may run, or not (with the message the agent reads). */
export type ToolDecision = { allow: true } | { allow: false; message: string };

/** Everything the loop needs from the outside world; the controller's HTTP endpoint is one implementation. */
export interface HarnessIO {
  /** Long-polls the agent's inbox for up to waitSeconds; [] when nothing came. */
  recv(waitSeconds: number): Promise<Message[]>;
  /** model and notes.md from `live`, read at every turn. */
  readLive(): Promise<{ model: string; notes: string }>;
  /** The checkout of `applied` and its prompt.md. */
  readConfig(): Promise<{ configDir: string; prompt: string }>;
  reportTurn(report: TurnReport): Promise<void>;
  /** Streams events of the turn in progress (absent: no live transcript). */
  postTurnEvents?(body: TurnEventsBody): Promise<void>;
  /**
   * Asks about a tool call and waits for the answer: the agent's surface decides at once, otherwise an
   * operator (or the controller's timeout) does. Absent: every such call is denied.
   */
  askTool?(q: ToolQuestion, signal: AbortSignal): Promise<ToolDecision>;
}
