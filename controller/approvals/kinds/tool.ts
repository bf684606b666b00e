import type { KindHandler } from '../service.ts';
import type { Approval } from '../store.ts';

/** What a tool request carries in `data`. */
export interface ToolRequestData {
  tool: { name: string; input: unknown };
  toolUseId: string | null;
  /** What the operator reads beside the call: the agent's last messages and its turn so far. */
  context: unknown;
  /** When it is denied for want of an answer (ms since the epoch). */
  timeoutAt: number;
  cwd?: string | null;
}

export const toolData = (a: Approval): ToolRequestData => a.data as unknown as ToolRequestData;

/**
 * A tool-use request: approving allows the one call, rejecting denies it with the operator's reason.
 * Nothing else moves: the waiting harness reads the decision (ToolGate), so there is nothing for a
 * restart to complete. The decision's audit row says who, what input, and how long it waited.
 */
export function toolKind(): KindHandler {
  return {
    auditAction: 'approve-tool',
    auditData: (a, at) => ({ tool: toolData(a).tool.name, input: toolData(a).tool.input, toolUseId: toolData(a).toolUseId, waitedMs: Math.max(0, at - a.createdAt) }),
    async approved(a, by) { return `${toolData(a).tool.name} allowed once by ${by}`; },
    async complete() { return 'the waiting agent reads the decision'; },
  };
}
