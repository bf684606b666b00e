import type { AgentRecord, AgentStore } from '../agents/store.ts';
import type { ApprovalStore } from '../approvals/store.ts';
import type { TokenRegistry } from '../auth/index.ts';
import type { EventStream } from '../events.ts';
import type { ReconLog } from '../log.ts';
import type { StatePaths } from '../paths.ts';
import type { Reconciler } from '../reconciler/reconciler.ts';
import type { Runtime } from '../runtime/types.ts';

/** Something a purge deletes beside the repo and state dir (transcripts, stats points); returns what it removed. */
export interface PurgeStep { what: string; run: (agent: string) => number | void }

/** What destroy, revive and purge use: passed in, so each is a plain function over it. */
export interface LifecycleDeps {
  paths: StatePaths;
  agents: AgentStore;
  requireAgent: (name: string) => AgentRecord;
  store: ApprovalStore;
  log: ReconLog;
  events: EventStream;
  runtime: Pick<Runtime, 'stop'>;
  /** The reconciler's builds, prepared revisions and per-agent memory. */
  loop: Pick<Reconciler, 'buildOf' | 'discardPrepared' | 'forget'>;
  tokens: Pick<TokenRegistry, 'add' | 'removeIdentity'>;
  /** Runs in the agent's slot (no reconcile pass of it meanwhile, and no apply); the agent reconciles after. */
  exclusive: <T>(name: string, fn: () => Promise<T>) => Promise<T>;
  /** Steps a purge runs after deleting the repo and state (registered by whoever keeps per-agent data). */
  purgeSteps: PurgeStep[];
  /** How long a destroy waits for a build under way before it answers anyway (default 2 min). */
  buildWaitMs?: number;
  now?: () => number;
}

export const short = (s: string | null | undefined): string => (s ? s.slice(0, 7) : 'none');

/** Bytes for people: 0 B, 12.3 KB, 4.5 MB. */
export function humanBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024; let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}
