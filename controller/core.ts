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
  /** Crashes within a window that make an agent Stalled/CrashLoop (default 5 in 10 min). */
  crashLoop?: { crashes: number; windowMs: number };
  /** How many operators must approve a request (one vote decides until the quorum rules exist). */
  approvalPolicy?: (a: Approval) => QuorumPolicy;
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
    status, log, events, runtime: o.runtime, refEvents, specFor, resyncMs: o.resyncMs, checkConfig: o.checkConfig, backoff: o.backoff, crashLoop: o.crashLoop,
  });
  const controller = new Controller({
    paths: o.paths, agents, approvals, approvalStore, status, log, events, refEvents, reconciler, runtime: o.runtime, tokens, moveApplied,
    checkConfig: o.checkConfig, hookOpts: (name) => ({ agent: name, eventsFile: o.paths.refEvents, projectRoot: PROJECT_ROOT, maxFileBytes: o.maxFileBytes }),
  });
  const spawner = new Spawner({
    agentOps: controller, agents, store: approvalStore, service: approvals, locks, repo: o.paths.repo, log, events, status, moveApplied,
  });
  spawner.register();
  // The watcher's health (the nspawn runtime's bus) is shown live on the dashboard and logged, once
  // per change between up and down: the retries of a bus that stays away are not news.
  let up: boolean | null = null;
  o.runtime.onHealth?.((h) => {
    const w = [h, ...(h.backends ?? [])].map((x) => x.watcher).find(Boolean);
    if (!w || w.state === 'connecting' || (w.state === 'connected') === up) return;
    up = w.state === 'connected';
    events.publish({ type: 'runtime.health', health: h });
    log.write(null, up ? 'info' : 'warn', 'runtime-watcher', `runtime watcher ${w.state} (${w.address})${w.lastError && !up ? `: ${w.lastError}` : ''}${w.reconnects ? `, ${w.reconnects} reconnect(s)` : ''}`, { state: w.state, reconnects: w.reconnects });
  });
  return { db: o.db, paths: o.paths, events, log, agents, approvalStore, approvals, status, refEvents, reconciler, runtime: o.runtime, tokens, moveApplied, controller, spawner };
}
