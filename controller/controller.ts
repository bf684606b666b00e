import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AgentStore, type AgentRecord } from './agents/store.ts';
import { ApprovalStore, OPEN_STATUSES, type Approval } from './approvals/store.ts';
import { TokenRegistry, newToken, readTokenFile, writeTokenFile, type Identity } from './auth/index.ts';
import type { DB } from './db/open.ts';
import { HyperhiveError } from './errors.ts';
import { ReconLog } from './log.ts';
import { assertAgentName, assertModel } from './names.ts';
import type { StatePaths } from './paths.ts';
import { Reconciler } from './reconciler/reconciler.ts';
import { RefEventReader } from './reconciler/ref-events.ts';
import { StatusStore } from './reconciler/status.ts';
import type { Condition } from './reconciler/types.ts';
import type { AgentSpec, Runtime, RuntimeStatus } from './runtime/types.ts';
import { createRepo, installHooks } from '../repos/store.ts';
import { readRefs, casRef, isAncestor, resolveRev, treeOf, commitExists } from '../repos/refs.ts';
import { readFileAt, commitInfo, logRange, type CommitInfo } from '../repos/read.ts';
import { patch as gitPatch } from '../repos/diff.ts';
import { commitFiles, commitTree } from '../repos/commit.ts';
import { identityFor } from '../repos/identity.ts';
import { ensureHookBundle, hookBundlePath } from '../repos/hook-bundle.ts';
import { isFullSha } from '../repos/git.ts';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const TEMPLATES_DIR = path.join(PROJECT_ROOT, 'templates');

export interface AgentView {
  name: string;
  state: AgentRecord['state'];
  applied: string | null;
  proposed: string | null;
  live: string | null;
  model: string | null;
  conditions: Condition[];
  runtime: { state: RuntimeStatus['state']; revision: string | null; isolated: boolean; pid: number | null; startedAt: number | null; restarts: number; note: string; kind: string };
  suspended: boolean;
  kept: boolean;
  lastAppliedRevision: string | null;
  lastAttemptedRevision: string | null;
  history: { ts: number; op: string; revision: string | null; result: string; message: string }[];
  createdAt: number;
  createdBy: string;
}

export interface ControllerOptions {
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
  /** Give each agent a working clone at <state>/repo (default on). */
  agentClone?: boolean;
  /** Evaluates a config revision before it may be approved (the harness issue plugs Nix in here). */
  checkConfig?: (repo: string, revision: string) => Promise<{ ok: boolean; error: string | null }>;
  /** The largest file a push may bring (baked into every repo's hooks; default 50 MB). */
  maxFileBytes?: number;
}

export const IDLE_AGENT = [process.execPath, path.join(PROJECT_ROOT, 'controller', 'runtime', 'idle-agent.mjs')];
const short = (s: string | null | undefined): string => (s ? s.slice(0, 7) : 'none');

/**
 * The one facade the API, the CLI's server side, MCP tools and tests go through. Every operation on an
 * agent runs exclusively with that agent's reconcile passes, so decisions see the refs they check.
 */
export class Controller extends EventEmitter {
  readonly db: DB;
  readonly paths: StatePaths;
  readonly runtime: Runtime;
  readonly agents: AgentStore;
  readonly approvals: ApprovalStore;
  readonly status: StatusStore;
  readonly log: ReconLog;
  readonly refEvents: RefEventReader;
  readonly reconciler: Reconciler;
  readonly tokens = new TokenRegistry();
  private modelCache = new Map<string, string | null>();
  /** What approving a request of another kind than `change` does (spawn, revive, destroy, tool). */
  private kindHandlers = new Map<string, { approved: (a: Approval, by: Identity) => Promise<void> }>();

  registerApprovalKind(kind: string, handler: { approved: (a: Approval, by: Identity) => Promise<void> }): void {
    this.kindHandlers.set(kind, handler);
  }

  /** Conditions the reconciler cannot observe (turn reports, the stuck detector), applied in order to every view. */
  private conditionSources: ((agent: string, base: Condition[]) => Condition[])[] = [];
  addConditionSource(fn: (agent: string, base: Condition[]) => Condition[]): void {
    this.conditionSources.push(fn);
  }

  /** Whether proposed configs are evaluated (Nix) when their request is raised and on approve. */
  get checksConfig(): boolean { return !!this.o.checkConfig; }

  constructor(private o: ControllerOptions) {
    super();
    this.db = o.db; this.paths = o.paths; this.runtime = o.runtime;
    this.agents = new AgentStore(o.db);
    this.approvals = new ApprovalStore(o.db);
    this.status = new StatusStore(o.db);
    this.log = new ReconLog(o.db, { stderr: o.logToStderr });
    this.refEvents = new RefEventReader(o.db, o.paths.refEvents);
    this.reconciler = new Reconciler({
      paths: o.paths, agents: this.agents, approvals: this.approvals, status: this.status, log: this.log,
      runtime: o.runtime, refEvents: this.refEvents, specFor: (n) => this.specFor(n), resyncMs: o.resyncMs, checkConfig: o.checkConfig,
    });
    this.reconciler.on('change', (e) => this.emit('change', e));
    this.log.on('log', (e) => this.emit('log', e));
  }

  specFor(name: string): AgentSpec {
    return {
      name, repo: this.paths.repo(name), configDir: this.paths.config(name), stateDir: this.paths.state(name),
      tokenFile: this.paths.token(name), controllerUrl: this.o.url(),
      command: this.o.agentCommand?.(name) ?? IDLE_AGENT, env: this.o.agentEnv?.(name), prepareClone: this.o.agentClone ?? true,
    };
  }

  /** Loads tokens, reinstalls hooks (the project may have moved), and starts the loop. */
  async start(): Promise<void> {
    fs.mkdirSync(this.paths.repos, { recursive: true });
    fs.mkdirSync(this.paths.events, { recursive: true });
    // Tokens before anything awaits: the server already listens, and /api/health answering 200
    // tells clients (and restarted agents) that their tokens work.
    let op = readTokenFile(this.paths.operatorToken);
    if (!op) { op = newToken(); writeTokenFile(this.paths.operatorToken, op); }
    this.tokens.add(op, { kind: 'operator', name: 'operator' });
    const agents = this.agents.list({ all: true });
    for (const a of agents) if (a.state !== 'kept') this.loadAgentToken(a.name);
    await ensureHookBundle(hookBundlePath(this.paths.root)).then((r) => this.log.info(null, 'hook-bundle', r.rebuilt ? `bundled the receive hook in ${r.ms} ms (${r.reason})` : `the receive hook bundle is up to date (checked in ${r.ms} ms)`, { rebuilt: r.rebuilt, ms: r.ms, swept: r.swept.length }), (e) => this.log.warn(null, 'hook-bundle', `could not bundle the receive hook (${(e as Error).message}); hooks run it through tsx`));
    for (const a of agents) {
      if (fs.existsSync(this.paths.repo(a.name))) await installHooks(this.paths.repo(a.name), this.hookOpts(a.name)).catch(() => undefined);
    }
    this.reconciler.start();
    this.started = true;
  }

  /** True once start() finished: /api/health answers 200 from then on. */
  started = false;

  async stop(): Promise<void> {
    await this.reconciler.stop();
    await this.runtime.close();
  }

  private hookOpts(name: string) {
    return { agent: name, eventsFile: this.paths.refEvents, projectRoot: PROJECT_ROOT, maxFileBytes: this.o.maxFileBytes };
  }

  private loadAgentToken(name: string): void {
    let t = readTokenFile(this.paths.token(name));
    if (!t) { t = newToken(); writeTokenFile(this.paths.token(name), t); }
    this.tokens.add(t, { kind: 'agent', name });
  }

  requireAgent(name: string): AgentRecord {
    assertAgentName(name);
    const a = this.agents.get(name);
    if (!a) throw new HyperhiveError('agent_not_found', `no agent named ${JSON.stringify(name)}`, { name });
    return a;
  }

  // ---- agents -------------------------------------------------------------------------------

  async createAgent(name: string, by: Identity, state: AgentRecord['state'] = 'active'): Promise<AgentView> {
    assertAgentName(name);
    if (this.agents.get(name)) throw new HyperhiveError('agent_exists', `agent ${JSON.stringify(name)} already exists`, { name });
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
    this.emit('change', { agent: name, what: 'agent' });
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

  async view(a: AgentRecord): Promise<AgentView> {
    const refs = await readRefs(this.paths.repo(a.name)).catch(() => ({ proposed: null, applied: null, live: null }));
    const st = this.status.get(a.name);
    const rt = this.runtime.status(a.name);
    return {
      name: a.name, state: a.state, applied: refs.applied, proposed: refs.proposed, live: refs.live,
      model: await this.readModel(a.name, refs.live),
      conditions: this.conditionSources.reduce((c, f) => f(a.name, c), st.conditions),
      runtime: { state: rt.state, revision: rt.revision, isolated: rt.isolated, pid: rt.pid, startedAt: rt.startedAt, restarts: rt.restarts, note: rt.note, kind: this.runtime.kind },
      suspended: a.suspended, kept: a.state === 'kept',
      lastAppliedRevision: st.lastAppliedRevision, lastAttemptedRevision: st.lastAttemptedRevision, history: st.history,
      createdAt: a.createdAt, createdBy: a.createdBy,
    };
  }

  async listAgents(opts: { all?: boolean } = {}): Promise<AgentView[]> {
    return Promise.all(this.agents.list(opts).map((a) => this.view(a)));
  }

  async setSuspended(name: string, suspended: boolean, by: Identity): Promise<AgentView> {
    this.requireAgent(name);
    await this.reconciler.queue.exclusive(name, async () => {
      this.agents.setSuspended(name, suspended);
      this.log.info(name, suspended ? 'suspended' : 'resumed', `${suspended ? 'suspended' : 'resumed'} by ${by.name}${suspended ? ': no applies until resumed' : ''}`);
      this.log.audit({ actor: by.name, action: suspended ? 'suspend' : 'resume', agent: name });
    });
    await this.reconciler.settled(name);
    // A resume also clears stalls the harness reported (auth, missing CLI, stuck): listeners act on it.
    if (!suspended) this.emit('resume', { agent: name, by: by.name });
    this.emit('change', { agent: name, what: 'agent' });
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
    this.emit('change', { agent: name, what: 'live' });
    return this.getAgent(name);
  }

  // ---- approvals ----------------------------------------------------------------------------

  listApprovals(q: { status?: string[]; agent?: string; kind?: string } = {}): Approval[] {
    return this.approvals.list(q);
  }

  getApproval(id: number): Approval {
    const a = Number.isInteger(id) && id > 0 ? this.approvals.get(id) : null;
    if (!a) throw new HyperhiveError('approval_not_found', `no request #${id}`, { id });
    return a;
  }

  async approvalPatch(id: number): Promise<string> {
    const a = this.getApproval(id);
    if (!a.base || !a.head) return '';
    return gitPatch(this.paths.repo(a.agent), a.base, a.head);
  }

  async approvalCommits(id: number): Promise<(CommitInfo & { proposer: string | null })[]> {
    const a = this.getApproval(id);
    if (!a.base || !a.head) return [];
    const commits = await logRange(this.paths.repo(a.agent), a.base, a.head, 200).catch(() => []);
    return commits.map((c) => ({ ...c, proposer: this.refEvents.pusherOf(a.agent, 'refs/heads/proposed', c.sha) }));
  }

  private staleReason(a: Approval, refs: { applied: string | null; proposed: string | null }): string | null {
    if (refs.applied !== a.base) return `applied moved: request #${a.id} was for base ${short(a.base)}, applied is now ${short(refs.applied)}`;
    if (refs.proposed !== a.head) {
      const newer = this.approvals.openChange(a.agent);
      return `proposed moved: request #${a.id} was for ${short(a.head)}, proposed is now ${short(refs.proposed)}${newer && newer.id !== a.id ? ` (see request #${newer.id})` : ''}`;
    }
    return null;
  }

  private notPending(a: Approval): HyperhiveError {
    const by = a.supersededBy ? ` by request #${a.supersededBy}` : '';
    const who = a.decidedBy ? ` by ${a.decidedBy}` : '';
    return new HyperhiveError('not_pending', `request #${a.id} is ${a.status}${a.status === 'superseded' ? by : who}; only a pending request can be decided`, { id: a.id, status: a.status, supersededBy: a.supersededBy });
  }

  async approve(id: number, by: Identity, note?: string): Promise<Approval> {
    const first = this.getApproval(id);
    if (first.kind !== 'change') {
      const h = this.kindHandlers.get(first.kind);
      if (!h) throw new HyperhiveError('bad_request', `request #${id} is a ${first.kind} request, which this controller cannot decide`);
      const done = await this.reconciler.queue.exclusive(first.agent, async () => {
        const a = this.getApproval(id);
        if (a.status !== 'pending') throw this.notPending(a);
        this.db.transaction(() => {
          this.approvals.vote(id, by.name, 'approve', note ?? null);
          this.approvals.update(id, { status: 'approved', decidedBy: by.name, decidedAt: Date.now(), note: note ?? a.note });
          this.log.audit({ actor: by.name, action: `approve-${a.kind}`, agent: a.agent, approvalId: id, base: a.base, head: a.head, reason: note ?? null });
        })();
        this.log.info(a.agent, 'approved', `${a.kind} request #${id} approved by ${by.name}`, { approval: id, kind: a.kind, by: by.name });
        try { await h.approved(this.getApproval(id), by); } catch (e) {
          this.approvals.update(id, { status: 'failed', error: (e as Error).message });
          this.log.error(a.agent, 'approval-failed', `${a.kind} request #${id}: ${(e as Error).message}`, { approval: id });
          throw e;
        }
        return this.getApproval(id);
      });
      this.reconciler.enqueue(first.agent);
      this.emit('change', { agent: first.agent, what: 'approval', id });
      return done;
    }
    const repo = this.paths.repo(first.agent);
    const result = await this.reconciler.queue.exclusive(first.agent, async () => {
      const a = this.getApproval(id);
      if (a.status !== 'pending') throw this.notPending(a);
      const refs = await readRefs(repo);
      const stale = this.staleReason(a, refs);
      if (stale) throw new HyperhiveError('stale_approval', stale, { id, base: a.base, head: a.head, applied: refs.applied, proposed: refs.proposed });
      if (this.o.checkConfig) {
        const check = await this.o.checkConfig(repo, a.head!);
        if (!check.ok) throw new HyperhiveError('unprocessable', `request #${id} cannot be approved: its config does not evaluate: ${check.error}`, { id });
      }
      // The decision is recorded before `applied` moves: a crash in between is completed on restart,
      // and `applied` only ever points at a commit some operator approved. The audit row is part of
      // the decision (it is what sanctions the new `applied`), so both commit together or not at all.
      this.db.transaction(() => {
        this.approvals.vote(id, by.name, 'approve', note ?? null);
        this.approvals.update(id, { status: 'approved', decidedBy: by.name, decidedAt: Date.now(), note: note ?? a.note });
        this.log.audit({ actor: by.name, action: 'approve', agent: a.agent, approvalId: id, base: a.base, head: a.head, patchHash: a.patchHash, reason: note ?? null });
      })();
      try {
        await casRef(repo, 'applied', a.head!, a.base, { pusher: by.name });
      } catch (e) {
        this.approvals.update(id, { status: 'failed', error: (e as Error).message });
        this.log.error(a.agent, 'approval-failed', `request #${id} approved by ${by.name} but applied could not move: ${(e as Error).message}`, { approval: id });
        throw new HyperhiveError('stale_approval', `applied moved while approving request #${id}: ${(e as Error).message}`, { id });
      }
      const done = this.approvals.update(id, { data: { ...this.getApproval(id).data, applied: true } });
      this.status.update(a.agent, (s) => { s.lastAppliedRevision = a.head; s.history.push({ ts: Date.now(), op: 'approve', revision: a.head, result: 'ok', message: `request #${id} approved by ${by.name}` }); });
      this.log.info(a.agent, 'approved', `request #${id} approved by ${by.name}: applied ${short(a.base)}→${short(a.head)}`, { approval: id, base: a.base, head: a.head, by: by.name });
      return done;
    });
    this.reconciler.enqueue(first.agent);
    this.emit('change', { agent: first.agent, what: 'approval', id });
    return result;
  }

  async reject(id: number, by: Identity, reason: string): Promise<Approval> {
    const first = this.getApproval(id);
    const result = await this.reconciler.queue.exclusive(first.agent, async () => {
      const a = this.getApproval(id);
      if (!OPEN_STATUSES.includes(a.status)) throw this.notPending(a);
      this.db.transaction(() => {
        this.approvals.vote(id, by.name, 'reject', reason);
        this.approvals.update(id, { status: 'rejected', decidedBy: by.name, decidedAt: Date.now(), reason });
        this.log.audit({ actor: by.name, action: 'reject', agent: a.agent, approvalId: id, base: a.base, head: a.head, patchHash: a.patchHash, reason });
      })();
      this.log.info(a.agent, 'rejected', `request #${id} rejected by ${by.name}: ${reason}`, { approval: id, by: by.name });
      return this.getApproval(id);
    });
    this.reconciler.enqueue(first.agent);
    this.emit('change', { agent: first.agent, what: 'approval', id });
    return result;
  }

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
    const open = this.approvals.openChange(name);
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
        const candidates = [this.status.get(name).lastAppliedRevision, ...this.log.auditTrail({ agent: name }).filter((e) => ['approve', 'fast-forward', 'repair', 'create-applied'].includes(e.action)).map((e) => e.head)];
        let restored: string | null = null;
        for (const c of candidates) if (c && await commitExists(repo, c)) { restored = c; break; }
        if (!restored) throw new HyperhiveError('conflict', `cannot restore applied for ${name}: no recorded applied revision exists in the repository`);
        await casRef(repo, 'applied', restored, null, { pusher: by.name });
        actions.push(`applied restored to ${short(restored)} from the audit trail`);
        this.log.audit({ actor: by.name, action: 'repair', agent: name, head: restored, reason: 'applied ref was missing' });
      }
      else if (!this.reconciler.sanctioned(name, refs.applied)) {
        const back = this.reconciler.lastSanctioned(name);
        if (!back || !(await commitExists(repo, back))) throw new HyperhiveError('conflict', `applied points at an unapproved commit and no earlier approved revision exists to move it back to`);
        await casRef(repo, 'applied', back, refs.applied, { pusher: by.name });
        actions.push(`applied moved back from unapproved ${short(refs.applied)} to ${short(back)}`);
        this.log.audit({ actor: by.name, action: 'repair', agent: name, base: refs.applied, head: back, reason: 'applied pointed at an unapproved commit' });
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
      const open = this.approvals.openChange(name);
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
