import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { Identity } from '../auth/index.ts';
import type { Bus } from '../bus/index.ts';
import type { Controller } from '../controller.ts';
import type { ReconLog } from '../log.ts';
import { HyperhiveError, isHyperhiveError } from '../errors.ts';
import { MANAGER } from '../names.ts';
import type { Spawner } from '../spawn.ts';

/** What every tool may use; passed in by serve(), so tests can build the same thing. */
export interface McpDeps {
  controller: Controller;
  bus: Bus;
  spawner: Spawner;
  log: Pick<ReconLog, 'warn'>;
  /** The controller's base URL (links to requests in replies). */
  baseUrl: () => string;
}

/** One call's context: the caller is whoever the bearer token says, never an argument. */
export interface ToolContext {
  deps: McpDeps;
  who: Identity;
  /** Aborted when the HTTP request goes away (a long-polling recv stops handing out). */
  signal: AbortSignal;
}

export const isManagerOrOperator = (who: Identity): boolean => who.kind === 'operator' || who.name === MANAGER;

/**
 * Manager-only tools: operators may use them too (they can do all of it through the API anyway).
 * Defence in depth: those tools are registered only for the manager and operators, and check again here.
 */
export function requireManager(ctx: ToolContext, tool: string): void {
  if (!isManagerOrOperator(ctx.who)) {
    throw new HyperhiveError('forbidden', `${tool} is a manager-only tool: agent ${ctx.who.name} may not call it (send the manager a message instead)`);
  }
}

/**
 * The input of a tool that acts on the caller's repo (read_config, propose_change, write_notes): the
 * `agent` argument exists only for those who may name another agent. Strict, as the advertised JSON
 * schema already says (additionalProperties: false): dropping a sub-agent's stray `agent` silently
 * would act on its own repo instead of refusing.
 */
export function repoToolInput<S extends z.ZodRawShape>(ctx: ToolContext, shape: S, agent: string) {
  const manages = isManagerOrOperator(ctx.who);
  const full = manages ? { ...shape, agent: z.string().optional().describe(agent) } : shape;
  return z.object(full as S & { agent: z.ZodOptional<z.ZodString> })
    .strict(manages ? undefined : `takes only ${Object.keys(shape).join(', ')}: it acts on your own repo (only the manager names another agent)`);
}

/**
 * The agent a repo tool acts on: the caller's own, or — for the manager and operators — the one
 * named by `agent`. Returns the name after checking it exists.
 */
export function targetAgent(ctx: ToolContext, agent: string | undefined, tool: string): string {
  const { who } = ctx;
  let name: string;
  if (agent === undefined || agent === who.name) {
    if (who.kind === 'operator') throw new HyperhiveError('bad_request', `agent: an operator has no repo of its own; pass agent (the agent whose repo ${tool} acts on)`, { field: 'agent' });
    name = who.name;
  } else {
    if (!isManagerOrOperator(who)) throw new HyperhiveError('forbidden', `agent: only the manager may pass another agent's name to ${tool}; agent ${who.name} acts on its own repo (leave agent out)`, { field: 'agent' });
    name = agent;
  }
  try {
    ctx.deps.controller.requireAgent(name);
  } catch (e) {
    if (isHyperhiveError(e)) throw new HyperhiveError(e.code, `agent: ${e.message}`, { ...e.data, field: 'agent' });
    throw e;
  }
  return name;
}

/** A tool's answer: JSON text for any client (the claude CLI reads text) plus the same as structured content. */
export function ok(value: Record<string, unknown>, summary?: string): CallToolResult {
  const text = JSON.stringify(value, null, 1);
  return { content: [{ type: 'text', text: summary ? `${summary}\n${text}` : text }], structuredContent: value };
}

/** A tool error the model can act on: code first, then what was wrong and what to do. */
export function toolError(e: unknown): CallToolResult {
  let text: string;
  if (isHyperhiveError(e)) {
    const field = typeof e.data.field === 'string' ? e.data.field : null;
    text = `${e.code}: ${field && !e.message.startsWith(field) ? `${field}: ` : ''}${e.message}`;
  } else {
    text = `internal: ${(e as Error)?.message ?? String(e)}`;
  }
  return { content: [{ type: 'text', text }], isError: true };
}

/** Wraps a tool body so every thrown error becomes an isError result naming what was wrong. */
export function guarded<A>(_ctx: ToolContext, body: (args: A, extra: ToolExtra) => Promise<CallToolResult>) {
  return async (args: A, extra: unknown): Promise<CallToolResult> => {
    try {
      return await body(args, (extra ?? {}) as ToolExtra);
    } catch (e) {
      return toolError(e);
    }
  };
}

/** The part of the SDK's per-request extra the tools use. */
export interface ToolExtra {
  signal?: AbortSignal;
  _meta?: { progressToken?: string | number };
  sendNotification?: (n: { method: 'notifications/progress'; params: { progressToken: string | number; progress: number; message?: string } }) => Promise<void>;
}

export const short = (s: string | null | undefined): string => (s ? s.slice(0, 7) : 'none');
