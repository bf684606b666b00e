import type { AgentRecord } from '../agents/store.ts';
import type { ApprovalStore } from '../approvals/store.ts';
import type { EventStream } from '../events.ts';
import type { ReconLog } from '../log.ts';
import type { ExecOptions, PtyHandle } from '../runtime/types.ts';

/** What an agent operation may use: passed in, so each operation is a plain function over it. */
export interface OpDeps {
  repo: (name: string) => string;
  requireAgent: (name: string) => AgentRecord;
  /** Runs in the agent's slot (no reconcile pass of it meanwhile); the agent reconciles after. */
  exclusive: <T>(name: string, fn: () => Promise<T>) => Promise<T>;
  settled: (name: string) => Promise<void>;
  store: ApprovalStore;
  log: ReconLog;
  events: EventStream;
  /** The runtime's PTY into a running agent. */
  exec: (name: string, o: ExecOptions) => Promise<PtyHandle>;
  now?: () => number;
}

export const short = (s: string | null | undefined): string => (s ? s.slice(0, 7) : 'none');
