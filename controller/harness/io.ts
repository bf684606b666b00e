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
}
