import { AgentStore } from './agents/store.ts';
import { changeKind } from './approvals/kinds/change.ts';
import { toolKind } from './approvals/kinds/tool.ts';
import { checkConfigRevision } from './config-check.ts';
import { ToolGate } from './tools/gate.ts';
import { readRefs } from '../repos/refs.ts';
import { appliedMover, type MoveApplied } from './approvals/move-applied.ts';
import { ApprovalService, type AgentLocks } from './approvals/service.ts';
import { ApprovalStore, type Approval } from './approvals/store.ts';
import type { QuorumPolicy } from './approvals/decide.ts';
import { PolicyFile } from './approvals/policy-file.ts';
import { quorumFor } from './approvals/quorum.ts';
import { OperatorService, OperatorStore } from './operators/index.ts';
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
import { AgentRecordsCache } from './agents/records-cache.ts';
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
  /** Crashes within a window that make an agent Stalled/CrashLoop (default 5 in 10 min). */
  crashLoop?: { crashes: number; windowMs: number };
  /** How many operators must approve a request (default: the quorum rules of <state>/policy.json). */
  approvalPolicy?: (a: Approval) => QuorumPolicy;
  /** Turn transcripts kept per agent (default: the last 50 turns or 20 MiB, whichever is smaller). */
  transcripts?: Partial<TranscriptRetention>;
  /** How long a tool call waits for an operator before it is denied (default 10 min). */
  toolTimeoutMs?: number;
  /** How long a destroy waits for a build under way before it answers (default 2 min). */
  destroyBuildWaitMs?: number;
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
  operators: OperatorService;
  /** <state>/policy.json: the quorum rules in force. */
  policy: PolicyFile;
  /** Where tool calls the agents' surfaces do not decide wait for an operator (start() arms its timeouts). */
  tools: ToolGate;
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
  const operators = new OperatorService({ store: new OperatorStore(o.db), tokens, log, events, agentExists: (n) => !!agents.get(n) });
  operators.load();
  const policy = new PolicyFile(o.paths.policy, { log, events });
  // Everyone who pushed a commit of a change request proposed it; resolved when a vote needs it.
  let controller: Controller;
  const proposers = async (a: Approval): Promise<string[]> =>
    a.kind === 'change' && a.base && a.head ? (await controller.approvalCommits(a.id)).flatMap((c) => (c.proposer ? [c.proposer] : [])) : [];
  const approvals = new ApprovalService({
    store: approvalStore, log, events, locks, proposers,
    policy: o.approvalPolicy ?? ((a) => ({ required: quorumFor(policy.rules, a).required })),
  });
  approvals.register('change', changeKind({ repo: o.paths.repo, store: approvalStore, status, moveApplied, checkConfig: o.checkConfig }));
  approvals.register('tool', toolKind());
  // A tool call is judged by the applied surface as the harness evaluates it (cached by revision).
  const tools = new ToolGate({
    store: approvalStore, approvals, log, events, requireAgent: (n) => controller.requireAgent(n), timeoutMs: o.toolTimeoutMs,
    surface: async (n) => {
      const { applied } = await readRefs(o.paths.repo(n));
      if (!applied) return null;
      const check = await checkConfigRevision(o.paths.repo(n), applied);
      if (!check.surface) throw new Error(check.error ?? 'no surface');
      return check.surface.tools;
    },
  });
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
  const records = new AgentRecordsCache(o.db, agents);
  controller = new Controller({
    isOperator: (n) => operators.isOperator(n), allRecords: () => records.all(),
    paths: o.paths, agents, approvals, approvalStore, status, log, events, refEvents, reconciler, runtime: o.runtime, tokens, moveApplied,
    checkConfig: o.checkConfig, destroyBuildWaitMs: o.destroyBuildWaitMs, hookOpts: (name) => ({ agent: name, eventsFile: o.paths.refEvents, projectRoot: PROJECT_ROOT, maxFileBytes: o.maxFileBytes }),
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
  const transcriptStore = new TranscriptStore(o.db, o.transcripts);
  const transcripts = new Transcripts({ store: transcriptStore, events, log, requireAgent: (n) => controller.requireAgent(n) });
  // A purge deletes what these keep of the agent (serve adds the stats points).
  controller.addPurgeStep({ what: 'transcripts', run: (n) => transcriptStore.forget(n) });
  controller.addPurgeStep({ what: 'status', run: (n) => status.forget(n) });
  return { db: o.db, paths: o.paths, events, log, agents, approvalStore, approvals, status, refEvents, reconciler, runtime: o.runtime, tokens, moveApplied, controller, spawner, transcripts, operators, policy, tools };
}
