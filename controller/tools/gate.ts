import type { ApprovalService } from '../approvals/service.ts';
import { toolData, type ToolRequestData } from '../approvals/kinds/tool.ts';
import type { Approval, ApprovalStore } from '../approvals/store.ts';
import { HyperhiveError } from '../errors.ts';
import type { EventStream } from '../events.ts';
import { assertCan } from '../lifecycle.ts';
import type { AgentRecord } from '../agents/store.ts';
import type { ReconLog } from '../log.ts';
import { evaluateTool, type ToolCall } from './pattern.ts';

export const DEFAULT_TOOL_TIMEOUT_MS = 10 * 60_000;
/** The longest one wait call holds its HTTP request (the harness asks again until decided). */
export const MAX_WAIT_MS = 60_000;
const MAX_INPUT_BYTES = 256 * 1024;
const MAX_CONTEXT_BYTES = 64 * 1024;

/** What the harness hands the CLI: allow (with the call's own input) or deny with the message the agent reads. */
export type ToolAnswer =
  | { id: number | null; status: 'pending'; timeoutAt: number }
  | { id: number | null; status: 'allow'; by: string; pattern?: string }
  | { id: number | null; status: 'deny'; by: string; message: string; pattern?: string };

export interface ToolAsk { toolName: unknown; input: unknown; toolUseId?: unknown; context?: unknown; cwd?: unknown }

export interface ToolGateDeps {
  store: ApprovalStore;
  approvals: ApprovalService;
  log: ReconLog;
  events: EventStream;
  requireAgent: (name: string) => AgentRecord;
  /** The tool patterns of the agent's applied surface; null when it cannot be evaluated (then everything asks). */
  surface: (agent: string) => Promise<{ allow: string[]; deny: string[] } | null>;
  timeoutMs?: number;
  now?: () => number;
}

const OPEN = ['pending'];

/**
 * Where a tool call the agent's surface does not decide waits for an operator. Policy first (the
 * applied surface: deny, then allow); anything else becomes a `tool` request in the approval queue,
 * answered by an operator (allow once, deny with a message, allow always) or, after the timeout,
 * denied with a message saying so. The harness asks and then waits in bounded long polls, so no
 * HTTP request spans the operator's whole time; asking again for the same tool_use_id finds the
 * same request (a restarted harness or controller picks up where it was).
 */
export class ToolGate {
  private readonly timeoutMs: number;
  private readonly now: () => number;
  private timers = new Map<number, NodeJS.Timeout>();
  private waiters = new Map<number, Set<() => void>>();
  private offs: (() => void)[] = [];

  constructor(private readonly d: ToolGateDeps) {
    this.timeoutMs = d.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS;
    this.now = d.now ?? Date.now;
  }

  get timeout(): number { return this.timeoutMs; }

  /** Arms the timeouts of the requests a restart left waiting, and ends those of agents whose process ended. */
  start(): void {
    for (const a of this.d.store.list({ kind: 'tool', status: OPEN })) this.arm(a);
    this.offs.push(this.d.events.on('request.decided', (e) => { if (e.kind === 'tool') this.wake(e.id); }));
    this.offs.push(this.d.events.on('runtime', ({ agent, event }) => {
      if (event.type !== 'exited' && event.type !== 'crashed' && event.type !== 'stopped') return;
      for (const a of this.d.store.list({ kind: 'tool', agent, status: OPEN })) this.expire(a.id, `the agent's process ended (${event.type}) before an operator answered`);
    }));
  }

  stop(): void {
    for (const off of this.offs) off();
    this.offs = [];
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const id of [...this.waiters.keys()]) this.wake(id);
  }

  /** The harness's question about one call: answered at once by policy, or a request that waits. */
  async ask(agent: string, q: ToolAsk): Promise<ToolAnswer> {
    assertCan(this.d.requireAgent(agent), 'ask-tool');
    const call = this.validate(q);
    const toolUseId = typeof q.toolUseId === 'string' && q.toolUseId ? q.toolUseId.slice(0, 200) : null;
    if (toolUseId) {
      const seen = this.d.store.list({ agent, kind: 'tool' }).reverse().find((a) => toolData(a).toolUseId === toolUseId);
      if (seen) return this.answerOf(seen);
    }
    const surface = await this.d.surface(agent).catch((e) => {
      this.d.log.warn(agent, 'tool-surface', `${agent}'s applied surface could not be evaluated (${(e as Error).message}): the call waits for an operator`);
      return null;
    });
    const verdict = surface ? evaluateTool(surface, call) : { verdict: 'ask' as const, pattern: null };
    if (verdict.verdict !== 'ask') {
      const allowed = verdict.verdict === 'allow';
      this.d.log.info(agent, allowed ? 'tool-allowed' : 'tool-denied', `${call.name} ${allowed ? 'allowed' : 'denied'} by policy (${verdict.pattern})`, { tool: call.name, pattern: verdict.pattern });
      this.d.log.audit({ actor: 'policy', action: allowed ? 'tool-allow-policy' : 'tool-deny-policy', agent, reason: verdict.pattern, data: { tool: call.name, input: call.input, toolUseId, waitedMs: 0 } });
      return allowed ? { id: null, status: 'allow', by: 'policy', pattern: verdict.pattern }
        : { id: null, status: 'deny', by: 'policy', pattern: verdict.pattern, message: `${call.name} is denied by ${agent}'s surface (${verdict.pattern} in hyperhive.json tools.deny)` };
    }
    const timeoutAt = this.now() + this.timeoutMs;
    const data: ToolRequestData = { tool: { name: call.name, input: call.input }, toolUseId, context: this.context(q.context), timeoutAt, cwd: call.cwd ?? null };
    const a = this.d.store.atomically(() => {
      const r = this.d.store.insert({ kind: 'tool', agent, base: null, head: null, status: 'pending', paths: [], proposer: agent, data: data as unknown as Record<string, unknown> });
      this.d.log.info(agent, 'tool-requested', `tool request #${r.id}: ${agent} asks to run ${call.name}${summary(call) ? ` (${summary(call)})` : ''}; denied unless an operator answers within ${Math.round(this.timeoutMs / 1000)} s`, { approval: r.id, tool: call.name });
      this.d.log.audit({ actor: agent, action: 'request-tool', agent, approvalId: r.id, data: { tool: call.name, input: call.input, toolUseId } });
      return r;
    });
    this.arm(a);
    this.d.events.publish({ type: 'request.raised', agent, id: a.id, kind: 'tool' });
    return this.answerOf(a);
  }

  /** Waits (at most `waitMs`, capped) for request `id` of `agent` to be decided; answers its state either way. */
  async wait(agent: string, id: number, waitMs: number, signal?: AbortSignal): Promise<ToolAnswer> {
    const a = this.get(agent, id);
    if (a.status !== 'pending') return this.answerOf(a);
    const ms = Math.max(0, Math.min(MAX_WAIT_MS, waitMs));
    await new Promise<void>((resolve) => {
      const set = this.waiters.get(id) ?? new Set();
      this.waiters.set(id, set);
      const done = () => { clearTimeout(t); set.delete(done); signal?.removeEventListener('abort', done); resolve(); };
      const t = setTimeout(done, ms);
      set.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
    return this.answerOf(this.get(agent, id));
  }

  /** What a request means to the waiting agent. */
  answerOf(a: Approval): ToolAnswer {
    const d = toolData(a);
    if (a.status === 'pending') return { id: a.id, status: 'pending', timeoutAt: d.timeoutAt };
    if (a.status === 'approved') return { id: a.id, status: 'allow', by: a.decidedBy ?? 'an operator' };
    if (a.status === 'rejected') return { id: a.id, status: 'deny', by: a.decidedBy ?? 'an operator', message: `Denied by operator ${a.decidedBy ?? '(unknown)'}: ${a.reason ?? 'no reason given'}` };
    return { id: a.id, status: 'deny', by: a.decidedBy ?? 'controller', message: a.reason ?? a.error ?? `tool request #${a.id} is ${a.status}` };
  }

  /** Denies a request nobody answered (timeout, or the agent went away); the agent's turn goes on. */
  expire(id: number, why: string): void {
    const a = this.d.store.get(id);
    if (!a || a.kind !== 'tool' || a.status !== 'pending') return;
    const at = this.now();
    const message = `Denied: ${why} (tool request #${id}). The call did not run; carry on without it or ask the operator another way.`;
    this.d.store.atomically(() => {
      this.d.store.update(id, { status: 'expired', decidedBy: 'controller', decidedAt: at, reason: message });
      this.d.log.audit({ actor: 'controller', action: 'tool-timeout', agent: a.agent, approvalId: id, reason: why, data: { tool: toolData(a).tool.name, input: toolData(a).tool.input, toolUseId: toolData(a).toolUseId, waitedMs: at - a.createdAt } });
    });
    this.d.log.warn(a.agent, 'tool-expired', `tool request #${id} (${toolData(a).tool.name}) denied: ${why}`, { approval: id });
    this.disarm(id);
    this.d.events.publish({ type: 'request.decided', agent: a.agent, id, kind: 'tool', status: 'expired', by: 'controller' });
  }

  private get(agent: string, id: number): Approval {
    const a = this.d.store.get(id);
    if (!a || a.kind !== 'tool' || a.agent !== agent) throw new HyperhiveError('not_found', `no tool request #${id} of agent ${agent}`);
    return a;
  }

  private arm(a: Approval): void {
    this.disarm(a.id);
    // Never before the full timeout since the request's own createdAt (a row stamped a ms after timeoutAt's base).
    const left = Math.max(toolData(a).timeoutAt, a.createdAt + this.timeoutMs) - this.now();
    const why = `no operator answered within ${Math.round(this.timeoutMs / 1000)} s`;
    if (left <= 0) { this.expire(a.id, why); return; }
    const t = setTimeout(() => { this.timers.delete(a.id); this.expire(a.id, why); }, left);
    t.unref?.();
    this.timers.set(a.id, t);
  }

  private disarm(id: number): void {
    const t = this.timers.get(id);
    if (t) clearTimeout(t);
    this.timers.delete(id);
  }

  private wake(id: number): void {
    this.disarm(id);
    for (const w of [...(this.waiters.get(id) ?? [])]) w();
    this.waiters.delete(id);
  }

  private validate(q: ToolAsk): ToolCall {
    if (typeof q.toolName !== 'string' || !/^[A-Za-z0-9_.:-]{1,200}$/.test(q.toolName)) throw new HyperhiveError('bad_request', 'field "tool_name" is required: the tool the agent wants to run (e.g. "Bash")', { field: 'tool_name' });
    const size = Buffer.byteLength(JSON.stringify(q.input ?? null));
    if (size > MAX_INPUT_BYTES) throw new HyperhiveError('too_large', `input: ${size} bytes is over the ${MAX_INPUT_BYTES}-byte limit of a tool request`, { field: 'input' });
    return { name: q.toolName, input: q.input ?? {}, cwd: typeof q.cwd === 'string' ? q.cwd.slice(0, 4096) : undefined };
  }

  /** The context the harness sent, kept within a size the page can show. */
  private context(c: unknown): unknown {
    if (c === undefined || c === null) return null;
    const text = JSON.stringify(c);
    return text.length <= MAX_CONTEXT_BYTES ? c : { truncated: true, text: `${text.slice(0, MAX_CONTEXT_BYTES)}…` };
  }
}

/** A one-line summary of a call for log lines (a Bash command, a file path). */
export function summary(call: { name: string; input: unknown }): string {
  const i = call.input as Record<string, unknown> | null;
  const s = typeof i?.command === 'string' ? i.command : typeof i?.file_path === 'string' ? i.file_path : typeof i?.url === 'string' ? i.url : '';
  return s.length > 120 ? `${s.slice(0, 120)}…` : s;
}
