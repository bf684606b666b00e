import { AgentStore } from './agents/store.ts';
import { changeKind } from './approvals/kinds/change.ts';
import { appliedMover, type MoveApplied } from './approvals/move-applied.ts';
import { ApprovalService, type AgentLocks } from './approvals/service.ts';
import { ApprovalStore, type Approval } from './approvals/store.ts';
import type { QuorumPolicy } from './approvals/decide.ts';
import { TokenRegistry } from './auth/index.ts';
import { Controller, IDLE_AGENT, PROJECT_ROOT } from './controller.ts';
import type { DB } from './db/open.ts';
import { EventStream } from './events.ts';
import { ReconLog } from './log.ts';
import type { LogFormat } from './log-format.ts';
import type { StatePaths } from './paths.ts';
import { Reconciler } from './reconciler/reconciler.ts';
import { RefEventReader } from './reconciler/ref-events.ts';
import { StatusStore } from './reconciler/status.ts';
import type { AgentSpec, Runtime } from './runtime/types.ts';
import { Spawner } from './spawn.ts';
import { TranscriptStore, Transcripts, type TranscriptRetention } from './transcripts/index.ts';

export interface CoreOptions {
  db: DB;
  paths: StatePaths;
  runtime: Runtime;
  /** The controller's base URL as reachable from agents. */
  url: () => string;
  /** argv of the agent command for an agent (defaults to the idle agent). */
  agentCommand?: (name: string) => string[];
  agentEnv?: (name: string) => Record<string, string>;
  resyncMs?: number;
  logToStderr?: boolean;
  /** How the log reaches stderr: JSON lines (default) or text for a person at a terminal. */
  logFormat?: LogFormat;
  /** Give each agent a working clone at <state>/repo (default on). */
  agentClone?: boolean;
  /** Evaluates a config revision before it may be approved (Nix, or hyperhive.json without it). */
  checkConfig?: (repo: string, revision: string) => Promise<{ ok: boolean; error: string | null }>;
  /** The largest file a push may bring (baked into every repo's hooks; default 50 MB). */
  maxFileBytes?: number;
  /** Backoff of failed applies (tests shorten it). */
  backoff?: { minMs: number; maxMs: number };
  /** How many operators must approve a request (one vote decides until the quorum rules exist). */
  approvalPolicy?: (a: Approval) => QuorumPolicy;
  /** Turn transcripts kept per agent (default: the last 50 turns or 20 MiB, whichever is smaller). */
  transcripts?: Partial<TranscriptRetention>;
}

/**
 * Everything the controller is made of, wired once: the composition root's product. serve() builds it
 * and hands each consumer the parts it needs; tests build it with the FakeRuntime and no server.
 */
export interface Core {
  db: DB;
  paths: StatePaths;
  events: EventStream;
  log: ReconLog;
  agents: AgentStore;
  approvalStore: ApprovalStore;
  approvals: ApprovalService;
  status: StatusStore;
  refEvents: RefEventReader;
  reconciler: Reconciler;
  runtime: Runtime;
  tokens: TokenRegistry;
  moveApplied: MoveApplied;
  controller: Controller;
  spawner: Spawner;
  transcripts: Transcripts;
}

export function createCore(o: CoreOptions): Core {
  const events = new EventStream();
  const log = new ReconLog(o.db, { stderr: o.logToStderr, format: o.logFormat, onEntry: (entry) => events.publish({ type: 'log', entry }) });
  const agents = new AgentStore(o.db);
  const approvalStore = new ApprovalStore(o.db);
  const status = new StatusStore(o.db);
  const refEvents = new RefEventReader(o.db, o.paths.refEvents);
  const tokens = new TokenRegistry();
  const moveApplied = appliedMover({ repo: o.paths.repo, log });
  // The reconciler owns the per-agent slots; the services reach them through these two calls.
  let reconciler: Reconciler;
  const locks: AgentLocks = {
    exclusive: (name, fn) => reconciler.queue.exclusive(name, fn),
    enqueue: (name) => reconciler.enqueue(name),
  };
  const approvals = new ApprovalService({ store: approvalStore, log, events, locks, policy: o.approvalPolicy });
  approvals.register('change', changeKind({ repo: o.paths.repo, store: approvalStore, status, moveApplied, checkConfig: o.checkConfig }));
  const specFor = (name: string): AgentSpec => ({
    name, repo: o.paths.repo(name),
    mounts: {
      config: { source: o.paths.config(name), target: o.paths.config(name), readOnly: true },
      state: { source: o.paths.state(name), target: o.paths.state(name), readOnly: false },
      token: { source: o.paths.token(name), target: o.paths.token(name), readOnly: true },
    },
    env: o.agentEnv?.(name) ?? {}, controllerUrl: o.url(), command: o.agentCommand?.(name) ?? IDLE_AGENT, workingClone: o.agentClone ?? true,
  });
  reconciler = new Reconciler({
    paths: o.paths, agents, approvals: approvalStore, completeApproval: (id) => approvals.complete(id), moveApplied,
    status, log, events, runtime: o.runtime, refEvents, specFor, resyncMs: o.resyncMs, checkConfig: o.checkConfig, backoff: o.backoff,
  });
  const controller = new Controller({
    paths: o.paths, agents, approvals, approvalStore, status, log, events, refEvents, reconciler, runtime: o.runtime, tokens, moveApplied,
    checkConfig: o.checkConfig, hookOpts: (name) => ({ agent: name, eventsFile: o.paths.refEvents, projectRoot: PROJECT_ROOT, maxFileBytes: o.maxFileBytes }),
  });
  const spawner = new Spawner({
    agentOps: controller, agents, store: approvalStore, service: approvals, locks, repo: o.paths.repo, log, events, status, moveApplied,
  });
  spawner.register();
  const transcripts = new Transcripts({ store: new TranscriptStore(o.db, o.transcripts), events, log, requireAgent: (n) => controller.requireAgent(n) });
  return { db: o.db, paths: o.paths, events, log, agents, approvalStore, approvals, status, refEvents, reconciler, runtime: o.runtime, tokens, moveApplied, controller, spawner, transcripts };
}
