import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AgentRecord, AgentStore } from './agents/store.ts';
import { SANCTIONING, type MoveApplied } from './approvals/move-applied.ts';
import type { ApprovalService, ApprovalView } from './approvals/service.ts';
import type { Approval, ApprovalStore } from './approvals/store.ts';
import { newToken, readTokenFile, writeTokenFile, type Identity, type TokenRegistry } from './auth/index.ts';
import { HyperhiveError } from './errors.ts';
import type { EventStream } from './events.ts';
import { assertCan, can } from './lifecycle.ts';
import { Semaphore } from './semaphore.ts';
import type { AuditEntry, LogEntry, ReconLog } from './log.ts';
import { assertAgentName, assertModel } from './names.ts';
import type { StatePaths } from './paths.ts';
import type { Reconciler } from './reconciler/reconciler.ts';
import type { RefEventReader } from './reconciler/ref-events.ts';
import type { StatusStore } from './reconciler/status.ts';
import type { Condition } from './reconciler/types.ts';
import type { ExecOptions, PtyHandle, Runtime, RuntimeHealth } from './runtime/types.ts';
import { createRepo, installHooks } from '../repos/store.ts';
import { readRefs, casRef, isAncestor, resolveRev, treeOf, commitExists } from '../repos/refs.ts';
import { readFileAt, commitInfo, logRange, type CommitInfo } from '../repos/read.ts';
import { diffSummary, patch as gitPatch } from '../repos/diff.ts';
import { commitFiles, commitTree } from '../repos/commit.ts';
import { identityFor } from '../repos/identity.ts';
import { ensureHookBundle, hookBundlePath } from '../repos/hook-bundle.ts';
import { isFullSha } from '../repos/git.ts';
import type { OpDeps } from './ops/deps.ts';
import { endorse } from './ops/endorse.ts';
import { openTerminal } from './ops/open-terminal.ts';
import { proposeFiles } from './ops/propose-files.ts';
import { writeNotes } from './ops/write-notes.ts';
import { allowTool, type AllowAlways } from './ops/allow-tool.ts';
import { destroy, type DestroyOptions } from './ops/destroy.ts';
import { keptInfo, type KeptInfo } from './ops/kept-info.ts';
import type { LifecycleDeps, PurgeStep } from './ops/lifecycle-deps.ts';
import { purge, type PurgeResult } from './ops/purge.ts';
import { requestDestroy } from './ops/request-destroy.ts';
import { requestRevive } from './ops/request-revive.ts';
import { destroyKind } from './approvals/kinds/destroy.ts';
import { reviveKind } from './approvals/kinds/revive.ts';
import { listAgentsPage, selectAgentNames, PlanMemo, type AgentPage, type ListAgentsDeps } from './ops/list-agents.ts';
import { AgentViews, type AgentView } from './agents/views.ts';
import { RefCache } from '../repos/ref-cache.ts';
import { runBulk, type BulkOutcome, type BulkPlan } from './ops/bulk.ts';
import type { AgentQuery } from './agents/query.ts';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const TEMPLATES_DIR = path.join(PROJECT_ROOT, 'templates');

export type { AgentView } from './agents/views.ts';

type HookOptions = Parameters<typeof installHooks>[1];

export interface ControllerDeps {
  paths: StatePaths;
  agents: AgentStore;
  approvals: ApprovalService;
  approvalStore: ApprovalStore;
  status: StatusStore;
  log: ReconLog;
  events: EventStream;
  refEvents: RefEventReader;
  reconciler: Reconciler;
  runtime: Runtime;
  tokens: TokenRegistry;
  moveApplied: MoveApplied;
  checkConfig?: (repo: string, revision: string) => Promise<{ ok: boolean; error: string | null }>;
  hookOpts: (name: string) => HookOptions;
  /** An operator has that name (agents and operators share the names recorded in the audit trail). */
  isOperator?: (name: string) => boolean;
  /** How long a destroy waits for a build under way (ops/destroy.ts; tests shorten it). */
  destroyBuildWaitMs?: number;
  /** Every record, kept included, from memory while unchanged (the fleet listing); default: the store. */
  allRecords?: () => AgentRecord[];
}

export const IDLE_AGENT = [process.execPath, path.join(PROJECT_ROOT, 'controller', 'runtime', 'idle-agent.mjs')];
const short = (s: string | null | undefined): string => (s ? s.slice(0, 7) : 'none');

/**
 * The facade over agent operations that the API, the CLI's server side, MCP tools and the web pages
 * go through; its parts are private (built by createCore). Every operation on an agent runs
 * exclusively with that agent's reconcile passes, so decisions see the refs they check.
 */
export class Controller {
  /** The one typed event stream (SSE, system messages, stats subscribe to it). */
  readonly events: EventStream;
  private readonly paths: StatePaths;
  private readonly agents: AgentStore;
  private readonly store: ApprovalStore;
  private readonly status: StatusStore;
  private readonly log: ReconLog;
  private readonly reconciler: Reconciler;
  private readonly runtime: Runtime;
  private modelCache = new Map<string, string | null>();

  /** Conditions the reconciler cannot observe (turn reports, the stuck detector), applied in order to every view. */
  private conditionSources: ((agent: string, base: Condition[]) => Condition[])[] = [];
  private conditionVersions: (() => number)[] | null = [];
  /**
   * `version`: a counter that moves whenever the source's answer for any agent may change; without one
   * the fleet listing plans over every agent's conditions on each request.
   */
  addConditionSource(fn: (agent: string, base: Condition[]) => Condition[], version?: () => number): void {
    this.conditionSources.push(fn);
    if (!version) this.conditionVersions = null;
    else this.conditionVersions?.push(version);
  }
  /** Changes whenever any agent's conditions may have changed; null where a source cannot tell. */
  private conditionsVersion(): string | null {
    if (!this.conditionVersions) return null;
    let v = String(this.status.version);
    for (const f of this.conditionVersions) v += `:${f()}`;
    return v;
  }

  /** Whether proposed configs are evaluated (Nix) when their request is raised and on approve. */
  get checksConfig(): boolean { return !!this.d.checkConfig; }
  get runtimeKind(): string { return this.runtime.kind; }
  /** The runtime as a whole: kind, isolation, and its watcher's health (GET /api/runtime, the dashboard). */
  runtimeHealth(): RuntimeHealth {
    return this.runtime.health?.() ?? { kind: this.runtime.kind, isolated: this.runtime.isolated, systemd: false, note: this.runtime.status('').note, watcher: null };
  }
  get operatorTokenFile(): string { return this.paths.operatorToken; }
  /** The bare repo of an agent (its name is checked). */
  repoOf(name: string): string { assertAgentName(name); return this.paths.repo(name); }
  stateDirOf(name: string): string { assertAgentName(name); return this.paths.state(name); }

  private readonly ops: OpDeps;

  private readonly views: AgentViews;

  constructor(private readonly d: ControllerDeps) {
    this.events = d.events;
    this.paths = d.paths; this.agents = d.agents; this.store = d.approvalStore; this.status = d.status;
    this.log = d.log; this.reconciler = d.reconciler; this.runtime = d.runtime;
    this.views = new AgentViews({
      repo: (n) => this.paths.repo(n), refs: new RefCache(this.paths.refEvents), model: (n, live) => this.readModel(n, live),
      status: (n) => this.status.get(n), runtime: (n) => this.runtime.status(n), runtimeKind: this.runtime.kind,
      conditions: (n) => this.conditionsOf(n), kept: (n) => keptInfo(this.log, n),
    });
    this.ops = {
      repo: (n) => this.paths.repo(n), requireAgent: (n) => this.requireAgent(n), exclusive: (n, fn) => this.exclusive(n, fn),
      settled: (n) => this.settled(n), store: this.store, log: this.log, events: this.events,
      exec: (n, o) => this.runtime.exec(n, o),
    };
    this.life = {
      paths: this.paths, agents: this.agents, requireAgent: (n) => this.requireAgent(n), store: this.store, log: this.log, events: this.events,
      runtime: this.runtime, loop: this.reconciler, tokens: d.tokens, exclusive: (n, fn) => this.exclusive(n, fn), purgeSteps: [], buildWaitMs: d.destroyBuildWaitMs,
    };
    // What deciding a destroy or revive request does: the same operations, inside the service's slot.
    d.approvals.register('destroy', destroyKind(this.life));
    d.approvals.register('revive', reviveKind(this.life));
  }

  private readonly life: LifecycleDeps;
  /** Destroys the agent at once (an operator): runtime stopped, token refused, repo and state kept; see ops/destroy.ts. */
  destroy(name: string, by: Identity, o: DestroyOptions = {}): Promise<KeptInfo> { return destroy(this.life, name, by, o); }
  /** A destroy request that waits for an operator (the manager's request_destroy); see ops/request-destroy.ts. */
  requestDestroy(name: string, by: Identity, reason: string | null = null): Promise<Approval> { return requestDestroy(this.life, name, by, reason); }
  /** A revive request for a kept agent; see ops/request-revive.ts. */
  requestRevive(name: string, by: Identity): Promise<Approval> { return requestRevive(this.life, name, by); }
  /** Deletes a kept agent's repo and state for good, confirmed with its name; see ops/purge.ts. */
  async purge(name: string, confirm: unknown, by: Identity): Promise<PurgeResult> {
    const r = await purge(this.life, name, confirm, by);
    this.views.forget(name);
    return r;
  }
  /** What else a purge deletes of an agent (transcripts, stats): registered by the parts that keep it. */
  addPurgeStep(step: PurgeStep): void { this.life.purgeSteps.push(step); }
  /** The destroyed agents (repo and state kept), for the kept-state section whatever the fleet list shows. */
  async keptAgents(): Promise<AgentView[]> {
    // From the records the fleet listing keeps in memory: the dashboard asks on every render.
    return Promise.all(this.agentRecords({ all: true }).filter((a) => a.state === 'kept').map((a) => this.view(a)));
  }
  /** When and by whom a kept agent was destroyed (null for any other). */
  keptInfo(name: string): KeptInfo | null { return keptInfo(this.log, name); }

  /** Commits files on the agent's `proposed` as `who` under the receive rules; see ops/propose-files.ts. */
  proposeFiles(name: string, files: Record<string, string | null>, message: string, who: Identity): Promise<string> { return proposeFiles(this.ops, name, files, message, who); }
  /** Replaces the agent's notes on `live`; see ops/write-notes.ts. */
  writeNotes(name: string, content: string, message: string | undefined, who: Identity): Promise<{ commit: string; unchanged: boolean; bytes: number }> { return writeNotes(this.ops, name, content, message, who); }
  /** A PTY into the running agent (the terminal); see ops/open-terminal.ts. */
  openTerminal(name: string, o: ExecOptions): Promise<PtyHandle> { return openTerminal(this.ops, name, o); }
  /** Allows a tool request once, or with `always` also proposes its pattern in hyperhive.json; see ops/allow-tool.ts. */
  allowTool(id: number, by: Identity, o: { always?: boolean; pattern?: unknown; note?: string } = {}): Promise<Approval & { always?: AllowAlways }> {
    return allowTool({ ...this.ops, approve: (i, b, n) => this.approve(i, b, n), proposeFiles: (...a) => this.proposeFiles(...a) }, id, by, o);
  }
  /** The manager's note on the exact head of an open request; see ops/endorse.ts. */
  endorse(name: string, commit: string, note: string, who: Identity): Promise<Approval> { return endorse(this.ops, name, commit, note, who); }

  /** Loads tokens, reinstalls hooks (the project may have moved), and starts the loop. */
  async start(): Promise<void> {
    fs.mkdirSync(this.paths.repos, { recursive: true });
    fs.mkdirSync(this.paths.events, { recursive: true });
    // Tokens before anything awaits: the server already listens, and /api/health answering 200
    // tells clients (and restarted agents) that their tokens work.
    let op = readTokenFile(this.paths.operatorToken);
    if (!op) { op = newToken(); writeTokenFile(this.paths.operatorToken, op); }
    this.d.tokens.add(op, { kind: 'operator', name: 'operator' });
    const agents = this.agents.list({ all: true });
    for (const a of agents) if (can(a.state, 'authenticate')) this.loadAgentToken(a.name);
    await ensureHookBundle(hookBundlePath(this.paths.root)).then((r) => this.log.info(null, 'hook-bundle', r.rebuilt ? `bundled the receive hook in ${r.ms} ms (${r.reason})` : `the receive hook bundle is up to date (checked in ${r.ms} ms)`, { rebuilt: r.rebuilt, ms: r.ms, swept: r.swept.length }), (e) => this.log.warn(null, 'hook-bundle', `could not bundle the receive hook (${(e as Error).message}); hooks run it through tsx`));
    // A few at a time: one by one, 1,000 agents' hooks held /api/health back for seconds.
    const gate = new Semaphore(8);
    await Promise.all(agents.map((a) => gate.run(async () => {
      if (fs.existsSync(this.paths.repo(a.name))) await installHooks(this.paths.repo(a.name), this.hookOpts(a.name)).catch(() => undefined);
    })));
    this.reconciler.start();
    this.started = true;
  }

  /** True once start() finished: /api/health answers 200 from then on. */
  started = false;

  async stop(): Promise<void> {
    await this.reconciler.stop();
    await this.runtime.close();
  }

  private hookOpts(name: string): HookOptions { return this.d.hookOpts(name); }

  private loadAgentToken(name: string): void {
    let t = readTokenFile(this.paths.token(name));
    if (!t) { t = newToken(); writeTokenFile(this.paths.token(name), t); }
    this.d.tokens.add(t, { kind: 'agent', name });
  }

  /** Who a presented token belongs to (constant-time), or null. */
  authenticate(token: string | null | undefined): Identity | null {
    const id = this.d.tokens.authenticate(token);
    // Every path (git, MCP, API, terminal, login) comes here: an agent's token works only while the
    // lifecycle policy says so, whatever the registry still holds.
    if (id?.kind === 'agent') {
      const a = this.agents.get(id.name);
      if (!a || !can(a.state, 'authenticate')) return null;
    }
    return id;
  }

  /** The agent's record, or null when no agent has that name. */
  findAgent(name: string): AgentRecord | null { return this.agents.get(name); }
  agentRecords(opts: { all?: boolean } = {}): AgentRecord[] {
    const all = this.d.allRecords?.() ?? this.agents.list({ all: true });
    return opts.all ? all : all.filter((a) => a.state !== 'kept');
  }

  /** The reconciliation log and the audit trail, for readers (API, pages, MCP). */
  logEntries(q: Parameters<ReconLog['list']>[0] = {}): LogEntry[] { return this.log.list(q); }
  auditTrail(q: Parameters<ReconLog['auditTrail']>[0] = {}): AuditEntry[] { return this.log.auditTrail(q); }
  /** Who pushed `sha` to an agent's branch, as its hook recorded it. */
  pusherOf(name: string, ref: string, sha: string): string | null { return this.d.refEvents.pusherOf(name, ref, sha); }

  /** Runs `fn` in the agent's slot (no reconcile pass of that agent meanwhile), then lets it reconcile. */
  async exclusive<T>(name: string, fn: () => Promise<T>): Promise<T> {
    try { return await this.reconciler.queue.exclusive(name, fn); } finally { this.reconciler.enqueue(name); }
  }
  /** Waits until the agent has no pass running or queued. */
  settled(name: string): Promise<void> { return this.reconciler.settled(name); }

  requireAgent(name: string): AgentRecord {
    assertAgentName(name);
    const a = this.agents.get(name);
    if (!a) throw new HyperhiveError('agent_not_found', `no agent named ${JSON.stringify(name)}`, { name });
    return a;
  }

  // ---- agents -------------------------------------------------------------------------------

  async createAgent(name: string, by: Identity, state: AgentRecord['state'] = 'active'): Promise<AgentView> {
    assertAgentName(name);
    const existing = this.agents.get(name);
    if (existing) throw new HyperhiveError('agent_exists', `agent ${JSON.stringify(name)} already exists${existing.state === 'kept' ? ' (destroyed, kept): revive it, or purge it to use the name again' : ''}`, { name, state: existing.state });
    if (this.d.isOperator?.(name)) throw new HyperhiveError('conflict', `${name} is an operator's name: an agent needs a name of its own (approvals and commits are recorded by name)`, { name });
    const repo = this.paths.repo(name);
    if (fs.existsSync(repo)) {
      // A crash between creating the repo and recording the agent: adopt the repo rather than lose it.
      this.log.warn(name, 'repo-adopted', `repository ${repo} existed without an agent record; adopting it`);
      await installHooks(repo, this.hookOpts(name));
      const refs = await readRefs(repo);
      if (refs.applied) this.log.audit({ actor: by.name, action: 'create-applied', agent: name, head: refs.applied, reason: 'adopted an existing repository' });
    } else {
      const roots = await createRepo(repo, { ...this.hookOpts(name), templatesDir: TEMPLATES_DIR, author: identityFor(by.name) });
      this.log.audit({ actor: by.name, action: 'create-applied', agent: name, head: roots.config, data: { live: roots.live } });
    }
    fs.mkdirSync(this.paths.state(name), { recursive: true });
    this.loadAgentToken(name);
    this.agents.insert(name, state, by.name);
    this.log.info(name, 'agent-created', `agent ${name} created by ${by.name} (${state})`);
    this.log.audit({ actor: by.name, action: 'create', agent: name, data: { state } });
    this.reconciler.enqueue(name);
    await this.reconciler.settled(name);
    this.events.publish({ type: 'agent.changed', agent: name, what: 'created' });
    return this.getAgent(name);
  }

  async readModel(name: string, live: string | null): Promise<string | null> {
    if (!live) return null;
    const k = `${name}\0${live}`;
    if (this.modelCache.has(k)) return this.modelCache.get(k)!;
    const buf = await readFileAt(this.paths.repo(name), live, 'model').catch(() => null);
    const m = buf ? buf.toString('utf8').trim() || null : null;
    if (this.modelCache.size > 10_000) this.modelCache.clear();
    this.modelCache.set(k, m);
    return m;
  }

  async getAgent(name: string): Promise<AgentView> {
    const a = this.requireAgent(name);
    return this.view(a);
  }

  /** The agent as every reader shows it; built by AgentViews, which serves it again while its parts are unchanged. */
  view(a: AgentRecord, mark?: string): Promise<AgentView> { return this.views.view(a, mark); }

  async listAgents(opts: { all?: boolean } = {}): Promise<AgentView[]> {
    const mark = this.views.mark();
    return Promise.all(this.agents.list(opts).map((a) => this.views.view(a, mark)));
  }

  /** The conditions every view shows (the reconciler's, then each condition source); in memory. */
  conditionsOf(name: string): Condition[] {
    return this.conditionSources.reduce((c, f) => f(name, c), this.status.get(name).conditions);
  }

  /** A filtered, sorted page of the fleet with its total and the fleet's counts; see ops/list-agents.ts. */
  listAgentsPage(q: AgentQuery): Promise<AgentPage<AgentView>> {
    const mark = this.views.mark();
    return listAgentsPage({ ...this.listingDeps(), view: (a) => this.views.view(a, mark) }, q);
  }

  /** The same page as a JSON array (each view serialised once per change): GET /api/agents. */
  async listAgentsJson(q: AgentQuery): Promise<{ json: string; total: number }> {
    const mark = this.views.mark();
    const page = await listAgentsPage({ ...this.listingDeps(), view: (a) => this.views.json(a, mark) }, q);
    return { json: `[${page.agents.join(',')}]`, total: page.total };
  }

  private readonly plans = new PlanMemo();
  private listingDeps(): Omit<ListAgentsDeps<unknown>, 'view'> {
    return { records: () => this.agentRecords({ all: true }), conditions: (n) => this.conditionsOf(n), memo: this.plans, version: () => this.conditionsVersion() };
  }

  /** Every agent the query selects (no paging): what a bulk action over a filter acts on. */
  selectAgentNames(q: AgentQuery): string[] {
    return selectAgentNames(this.listingDeps(), q);
  }

  /** Suspend, resume or reject the open requests of many agents, each on its own; see ops/bulk.ts. */
  bulk(plan: BulkPlan, by: Identity): Promise<BulkOutcome> {
    return runBulk({
      select: (q) => this.selectAgentNames(q), requireAgent: (n) => this.requireAgent(n),
      setSuspended: (n, s, b, o) => this.setSuspended(n, s, b, o),
      openRequests: (n) => this.store.list({ agent: n, status: ['pending', 'diverged'] }),
      reject: (id, b, reason) => this.reject(id, b, reason),
    }, plan, by);
  }

  async setSuspended(name: string, suspended: boolean, by: Identity, o: { bulk?: string } = {}): Promise<AgentView> {
    this.requireAgent(name);
    await this.reconciler.queue.exclusive(name, async () => {
      assertCan(this.requireAgent(name), 'suspend');
      this.agents.setSuspended(name, suspended);
      this.log.info(name, suspended ? 'suspended' : 'resumed', `${suspended ? 'suspended' : 'resumed'} by ${by.name}${o.bulk ? ` (bulk ${o.bulk})` : ''}${suspended ? ': no applies until resumed' : ''}`);
      this.log.audit({ actor: by.name, action: suspended ? 'suspend' : 'resume', agent: name, ...(o.bulk ? { data: { bulk: o.bulk } } : {}) });
    });
    await this.reconciler.settled(name);
    // A resume also clears stalls the harness reported (auth, missing CLI, stuck): listeners act on it.
    if (!suspended) this.events.publish({ type: 'agent.resumed', agent: name, by: by.name });
    this.events.publish({ type: 'agent.changed', agent: name, what: 'suspended' });
    return this.getAgent(name);
  }

  /** Commits `model` on `live` as `by`. Takes effect on the agent's next turn; restarts nothing. */
  async setModel(name: string, model: string, by: Identity): Promise<AgentView> {
    this.requireAgent(name);
    assertModel(model);
    const repo = this.paths.repo(name);
    await this.reconciler.queue.exclusive(name, async () => {
      const { live } = await readRefs(repo);
      if (!live) throw new HyperhiveError('conflict', `agent ${name} has no live branch; \`hyperhive repair ${name}\` restores it`);
      const sha = await commitFiles(repo, { branch: 'live', files: { model: `${model}\n` }, message: `Set model to ${model}`, author: identityFor(by.name), expectedOld: live, pusher: by.name });
      this.log.info(name, 'model-set', `model set to ${model} by ${by.name} on live ${short(sha)} (next turn, no restart)`, { live: sha, model });
      this.log.audit({ actor: by.name, action: 'set-model', agent: name, head: sha, data: { model } });
    });
    this.events.publish({ type: 'agent.changed', agent: name, what: 'live' });
    return this.getAgent(name);
  }

  // ---- approvals ----------------------------------------------------------------------------

  listApprovals(q: { status?: string[]; agent?: string; kind?: string } = {}): Approval[] {
    return this.store.list(q);
  }

  getApproval(id: number): Approval { return this.d.approvals.get(id); }
  /** The Contract's approval object: the request with its votes so far and the quorum it needs. */
  approvalView(a: Approval): ApprovalView { return this.d.approvals.view(a); }

  /** The agent's open change request (pending or diverged), if any. */
  openChange(name: string): Approval | null { return this.store.openChange(name); }

  votes(id: number): { voter: string; decision: string; reason: string | null; at: number }[] { return this.store.votes(id); }

  async approvalPatch(id: number): Promise<string> {
    const a = this.getApproval(id);
    if (!a.base || !a.head) return '';
    return gitPatch(this.paths.repo(a.agent), a.base, a.head);
  }

  /** The patch with git's -z list of its paths (one git process), so names with spaces, tabs or newlines are shown and addressed as they are. */
  async approvalDiff(id: number): Promise<Awaited<ReturnType<typeof diffSummary>>> {
    const a = this.getApproval(id);
    if (!a.base || !a.head) throw new HyperhiveError('not_found', `request #${a.id} has no diff`);
    return diffSummary(this.paths.repo(a.agent), a.base, a.head);
  }

  async approvalCommits(id: number): Promise<(CommitInfo & { proposer: string | null })[]> {
    const a = this.getApproval(id);
    if (!a.base || !a.head) return [];
    const commits = await logRange(this.paths.repo(a.agent), a.base, a.head, 200).catch(() => []);
    // The hook records who moved the branch to each push's tip; the commits below a tip (newest
    // first) came with that same push, down to the previous push's tip.
    let pushedBy: string | null = null;
    return commits.map((c) => {
      pushedBy = this.d.refEvents.pusherOf(a.agent, 'refs/heads/proposed', c.sha) ?? pushedBy;
      return { ...c, proposer: pushedBy };
    });
  }

  approve(id: number, by: Identity, note?: string): Promise<Approval> { return this.d.approvals.approve(id, by, note); }
  reject(id: number, by: Identity, reason: string): Promise<Approval> { return this.d.approvals.reject(id, by, reason); }

  /** A new commit on `proposed` with `applied`'s tree, authored by `by`: the net change becomes empty. */
  async revert(name: string, by: Identity): Promise<{ commit: string }> {
    this.requireAgent(name);
    const repo = this.paths.repo(name);
    const commit = await this.reconciler.queue.exclusive(name, async () => {
      const refs = await readRefs(repo);
      if (!refs.applied || !refs.proposed) throw new HyperhiveError('conflict', `agent ${name} lacks ${!refs.applied ? 'applied' : 'proposed'}; run \`hyperhive repair ${name}\``);
      const tree = await treeOf(repo, refs.applied);
      if (tree === await treeOf(repo, refs.proposed)) throw new HyperhiveError('conflict', `proposed already has applied's tree (${short(refs.applied)}): nothing to revert`);
      const sha = await commitTree(repo, { branch: 'proposed', tree, parents: [refs.proposed], message: `Revert proposed to applied ${short(refs.applied)}\n\nRequested by ${by.name}.`, author: identityFor(by.name), expectedOld: refs.proposed, pusher: by.name });
      this.log.info(name, 'reverted', `proposed reverted to applied's tree by ${by.name} (${short(sha)})`, { commit: sha });
      this.log.audit({ actor: by.name, action: 'revert', agent: name, base: refs.applied, head: sha });
      return sha;
    });
    this.reconciler.enqueue(name);
    await this.reconciler.settled(name);
    return { commit };
  }

  /** A new commit on `proposed` with an earlier applied revision's tree, approved like any change. */
  async rollback(name: string, rev: string, by: Identity): Promise<{ commit: string; approval: Approval | null }> {
    this.requireAgent(name);
    const repo = this.paths.repo(name);
    if (typeof rev !== 'string' || !/^[0-9a-fA-F]{4,40}$/.test(rev)) throw new HyperhiveError('bad_request', `revision must be a commit SHA (4 to 40 hex digits), got ${JSON.stringify(String(rev).slice(0, 50))}`);
    const commit = await this.reconciler.queue.exclusive(name, async () => {
      const target = await resolveRev(repo, rev);
      if (!target) throw new HyperhiveError('not_found', `no commit ${rev} in ${name}'s repository`);
      const refs = await readRefs(repo);
      if (!refs.applied || !refs.proposed) throw new HyperhiveError('conflict', `agent ${name} lacks ${!refs.applied ? 'applied' : 'proposed'}; run \`hyperhive repair ${name}\``);
      if (!(await isAncestor(repo, target, refs.applied))) throw new HyperhiveError('bad_request', `${short(target)} is not an earlier applied revision of ${name} (not in applied's history)`);
      const tree = await treeOf(repo, target);
      const sha = await commitTree(repo, { branch: 'proposed', tree, parents: [refs.proposed], message: `Roll back to ${short(target)}\n\nRequested by ${by.name}.`, author: identityFor(by.name), expectedOld: refs.proposed, pusher: by.name });
      this.log.info(name, 'rollback-proposed', `rollback to ${short(target)} proposed by ${by.name} as ${short(sha)}`, { target, commit: sha });
      this.log.audit({ actor: by.name, action: 'rollback', agent: name, base: refs.applied, head: sha, data: { target } });
      return sha;
    });
    this.reconciler.enqueue(name);
    await this.reconciler.settled(name);
    const open = this.store.openChange(name);
    return { commit, approval: open && open.head === commit ? open : null };
  }

  /** Restores what can be restored: a deleted `applied` from the status and audit trail, a missing `proposed` from `applied`, the hooks. */
  async repair(name: string, by: Identity): Promise<{ actions: string[] }> {
    this.requireAgent(name);
    const repo = this.paths.repo(name);
    const actions: string[] = [];
    await this.reconciler.queue.exclusive(name, async () => {
      await installHooks(repo, this.hookOpts(name));
      actions.push('hooks reinstalled');
      const refs = await readRefs(repo);
      if (!refs.applied) {
        const sanctioned: readonly string[] = SANCTIONING;
        const candidates = [this.status.get(name).lastAppliedRevision, ...this.log.auditTrail({ agent: name }).filter((e) => sanctioned.includes(e.action)).map((e) => e.head)];
        let restored: string | null = null;
        for (const c of candidates) if (c && await commitExists(repo, c)) { restored = c; break; }
        if (!restored) throw new HyperhiveError('conflict', `cannot restore applied for ${name}: no recorded applied revision exists in the repository`);
        await this.d.moveApplied(name, null, restored, 'repair', by.name, { note: 'applied ref was missing' });
        actions.push(`applied restored to ${short(restored)} from the audit trail`);
      }
      else if (!this.reconciler.sanctioned(name, refs.applied)) {
        const back = this.reconciler.lastSanctioned(name);
        if (!back || !(await commitExists(repo, back))) throw new HyperhiveError('conflict', `applied points at an unapproved commit and no earlier approved revision exists to move it back to`);
        await this.d.moveApplied(name, refs.applied, back, 'repair', by.name, { note: 'applied pointed at an unapproved commit' });
        actions.push(`applied moved back from unapproved ${short(refs.applied)} to ${short(back)}`);
      }
      const after = await readRefs(repo);
      if (!after.proposed && after.applied) {
        await casRef(repo, 'proposed', after.applied, null, { pusher: by.name });
        actions.push(`proposed recreated at applied ${short(after.applied)}`);
      }
      this.status.update(name, (s) => { s.failures = 0; s.nextAttemptAt = null; s.history.push({ ts: Date.now(), op: 'repair', revision: null, result: 'ok', message: actions.join('; ') }); });
      this.log.info(name, 'repaired', `repair by ${by.name}: ${actions.join('; ')}`);
    });
    this.reconciler.enqueue(name);
    await this.reconciler.settled(name);
    return { actions };
  }

  /**
   * Called by the post-receive hook (through the API) right after a push landed: reconcile now and
   * say what happened. What the pusher reads, per branch pushed: for proposed the request it
   * raised (or why none), for live that it takes effect as written. Without `updates` (an older hook),
   * the proposed answer.
   */
  async afterPush(name: string, baseUrl: string, updates?: { ref: string; new: string }[]): Promise<string[]> {
    this.requireAgent(name);
    this.reconciler.ingest();
    this.reconciler.enqueue(name);
    await this.reconciler.settled(name);
    const branches = new Map((updates ?? [{ ref: 'refs/heads/proposed', new: '' }]).map((u) => [u.ref.replace(/^refs\/heads\//, ''), u.new]));
    const lines: string[] = [];
    if (branches.has('proposed')) {
      const open = this.store.openChange(name);
      lines.push(!open ? 'no open request: proposed has the same tree as applied'
        : `request #${open.id} ${open.status === 'diverged' ? 'is DIVERGED (proposed does not descend from applied)' : 'waits for approval'}: ${baseUrl}/approvals/${open.id}`);
    }
    const live = branches.get('live');
    if (isFullSha(live)) {
      const model = await this.readModel(name, live).catch(() => null);
      lines.push(`live is now ${short(live)}: notes${model ? ` and model ${model}` : ''} take effect at ${name}'s next turn, without a restart or a request`);
    }
    return lines;
  }

  commitInfo(name: string, sha: string): Promise<CommitInfo> { return commitInfo(this.paths.repo(name), sha); }
}
