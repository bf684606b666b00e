import type { AgentRecord, AgentStore } from './agents/store.ts';
import type { AgentLocks, ApprovalService, KindHandler } from './approvals/service.ts';
import type { MoveApplied } from './approvals/move-applied.ts';
import type { Approval, ApprovalStore } from './approvals/store.ts';
import type { Identity } from './auth/index.ts';
import type { AgentView } from './controller.ts';
import { HyperhiveError } from './errors.ts';
import type { EventStream } from './events.ts';
import { assertCan } from './lifecycle.ts';
import type { ReconLog } from './log.ts';
import { assertAgentName } from './names.ts';
import type { StatusStore } from './reconciler/status.ts';
import { isAncestor, readRefs, resolveRev } from '../repos/refs.ts';
import { changedPaths } from '../repos/diff.ts';
import { listTree } from '../repos/read.ts';

const short = (s: string | null | undefined): string => (s ? s.slice(0, 7) : 'none');

/** How a spawn request came to be: a fresh agent from the templates, or a draft at one of its commits. */
export type SpawnMode = 'new' | 'commit';

export interface SpawnResult { agent: AgentView; approval: Approval | null }

export interface SpawnerDeps {
  /** The agent operations of the controller facade. */
  agentOps: {
    createAgent(name: string, by: Identity, state: AgentRecord['state']): Promise<AgentView>;
    getAgent(name: string): Promise<AgentView>;
    requireAgent(name: string): AgentRecord;
  };
  agents: AgentStore;
  store: ApprovalStore;
  service: ApprovalService;
  locks: AgentLocks;
  repo: (name: string) => string;
  log: ReconLog;
  events: EventStream;
  status: StatusStore;
  moveApplied: MoveApplied;
  now?: () => number;
}

/**
 * The manager's ways to bring an agent into being. Nothing it asks for runs before an operator
 * approves a `spawn` request: `requestSpawn` and `requestSpawnCommit` leave the agent `pending`,
 * `requestSpawnDraft` leaves it a `draft` (repo only) to be edited first.
 */
export class Spawner {
  private readonly now: () => number;
  constructor(private readonly d: SpawnerDeps) { this.now = d.now ?? Date.now; }

  /** Registers what deciding a spawn request does (approval, completion after a crash, rejection). */
  register(): void {
    this.d.service.register('spawn', this.handler());
  }

  /** Creates the agent from the templates, `pending`, with a spawn request for its initial config. */
  async requestSpawn(name: string, by: Identity): Promise<SpawnResult> {
    assertAgentName(name);
    const existing = this.d.agents.get(name);
    if (existing) {
      // A spawn that was rejected leaves the agent pending: asking again raises a new request.
      if (existing.state !== 'pending') throw new HyperhiveError('agent_exists', `agent ${JSON.stringify(name)} already exists (${existing.state})`, { name, state: existing.state });
      const open = this.openSpawn(name);
      if (open) throw new HyperhiveError('conflict', `agent ${name} already waits for spawn request #${open.id}`, { name, approval: open.id });
    } else {
      await this.d.agentOps.createAgent(name, by, 'pending');
    }
    const approval = await this.d.locks.exclusive(name, async () => {
      const { applied } = await readRefs(this.d.repo(name));
      if (!applied) throw new HyperhiveError('conflict', `agent ${name} has no applied branch; \`hyperhive repair ${name}\` restores it`);
      const paths = (await listTree(this.d.repo(name), applied)).map((f) => f.path);
      return this.raise(name, null, applied, paths, by, 'new');
    });
    return { agent: await this.d.agentOps.getAgent(name), approval };
  }

  /** Creates repo and state dir with the agent a `draft`: no runtime, no requests, until requestSpawnCommit. */
  async requestSpawnDraft(name: string, by: Identity): Promise<SpawnResult> {
    assertAgentName(name);
    const agent = await this.d.agentOps.createAgent(name, by, 'draft');
    return { agent, approval: null };
  }

  /**
   * A spawn request for exactly `commit`, which must be on the draft's `proposed` and descend from
   * its `applied`. On approval `applied` moves to it (compare-and-swap) and the agent becomes active.
   * A newer request for the same agent supersedes an open one.
   */
  async requestSpawnCommit(name: string, commit: string, by: Identity): Promise<SpawnResult> {
    const rec = this.d.agentOps.requireAgent(name);
    assertCan(rec, 'request-spawn');
    if (typeof commit !== 'string' || !/^[0-9a-fA-F]{4,40}$/.test(commit)) {
      throw new HyperhiveError('bad_request', `commit must be a commit SHA (4 to 40 hex digits), got ${JSON.stringify(String(commit).slice(0, 50))}`, { field: 'commit' });
    }
    const repo = this.d.repo(name);
    let superseded: Approval | null = null;
    const approval = await this.d.locks.exclusive(name, async () => {
      const sha = await resolveRev(repo, commit.toLowerCase());
      if (!sha) throw new HyperhiveError('not_found', `commit: no commit ${commit} in ${name}'s repository (push it to proposed first)`, { field: 'commit' });
      const refs = await readRefs(repo);
      if (!refs.applied || !refs.proposed) throw new HyperhiveError('conflict', `agent ${name} lacks ${!refs.applied ? 'applied' : 'proposed'}; run \`hyperhive repair ${name}\``);
      if (!(await isAncestor(repo, sha, refs.proposed))) throw new HyperhiveError('bad_request', `commit: ${short(sha)} is not on ${name}'s proposed branch (proposed is ${short(refs.proposed)})`, { field: 'commit' });
      if (!(await isAncestor(repo, refs.applied, sha))) throw new HyperhiveError('bad_request', `commit: ${short(sha)} does not descend from ${name}'s applied ${short(refs.applied)}`, { field: 'commit' });
      const paths = sha === refs.applied ? [] : (await changedPaths(repo, refs.applied, sha)).map((p) => p.path);
      const open = this.openSpawn(name);
      const a = this.raise(name, refs.applied, sha, paths, by, 'commit');
      if (open) superseded = this.d.store.update(open.id, { status: 'superseded', supersededBy: a.id });
      if (rec.state !== 'pending') this.d.agents.setState(name, 'pending');
      return a;
    });
    const old = superseded as Approval | null;
    if (old) this.d.events.publish({ type: 'request.superseded', agent: name, id: old.id, by: approval.id });
    this.d.events.publish({ type: 'agent.changed', agent: name, what: 'state' });
    return { agent: await this.d.agentOps.getAgent(name), approval };
  }

  openSpawn(name: string): Approval | null {
    return this.d.store.list({ agent: name, kind: 'spawn', status: ['pending'] }).at(-1) ?? null;
  }

  private raise(name: string, base: string | null, head: string, paths: string[], by: Identity, mode: SpawnMode): Approval {
    const a = this.d.store.atomically(() => {
      const r = this.d.store.insert({ kind: 'spawn', agent: name, base, head, status: 'pending', paths, proposer: by.name, data: { mode } });
      this.d.log.info(name, 'spawn-requested', `spawn request #${r.id} by ${by.name} for ${name} at ${short(head)}${mode === 'commit' ? ' (from its draft)' : ''}`, { approval: r.id, head, mode });
      this.d.log.audit({ actor: by.name, action: 'request-spawn', agent: name, approvalId: r.id, base, head, data: { mode } });
      return r;
    });
    this.d.events.publish({ type: 'request.raised', agent: name, id: a.id, kind: 'spawn' });
    return a;
  }

  private handler(): KindHandler {
    /** The decision taking effect (and, after a crash, the same again): applied to the draft's commit, the agent active. */
    const activate = async (a: Approval, by: string, after: 'approve' | 'restart'): Promise<string> => {
      const rec = this.d.agentOps.requireAgent(a.agent);
      // Completed already before a crash cut the marker short.
      if (after === 'restart' && rec.state === 'active') return `${a.agent} is already active`;
      if (rec.state !== 'pending') throw new HyperhiveError('conflict', `agent ${a.agent} is ${rec.state}, not pending: spawn request #${a.id} cannot start it`);
      if (a.data.mode === 'commit' && a.head) {
        const { applied } = await readRefs(this.d.repo(a.agent));
        if (applied !== a.head) {
          if (applied !== a.base) throw new HyperhiveError('conflict', `applied moved to ${short(applied)} before the spawn completed`);
          await this.d.moveApplied(a.agent, a.base, a.head, 'approve-spawn', by, { approvalId: a.id });
        }
        this.d.status.update(a.agent, (s) => { s.lastAppliedRevision = a.head; s.history.push({ ts: this.now(), op: 'spawn', revision: a.head, result: 'ok', message: `spawn request #${a.id} approved by ${by}` }); });
      }
      this.d.agents.setState(a.agent, 'active');
      this.d.log.info(a.agent, 'spawned', after === 'restart'
        ? `spawn request #${a.id} completed after a restart`
        : `agent ${a.agent} is active at ${short(a.head)} (spawn request #${a.id} approved by ${by})`, { approval: a.id, head: a.head });
      this.d.events.publish({ type: 'agent.changed', agent: a.agent, what: 'state' });
      return `${a.agent} is active at ${short(a.head)}`;
    };
    return {
      auditAction: 'approve-spawn',
      approved: (a, by) => activate(a, by, 'approve'),
      complete: (a) => activate(a, a.decidedBy ?? 'controller', 'restart'),
      // A rejected spawn of a draft's commit gives the draft back to the manager to edit and ask again.
      rejected: async (a) => {
        if (a.data.mode !== 'commit') return;
        const rec = this.d.agents.get(a.agent);
        if (rec?.state === 'pending' && !this.openSpawn(a.agent)) {
          this.d.agents.setState(a.agent, 'draft');
          this.d.log.info(a.agent, 'spawn-rejected', `spawn request #${a.id} rejected: ${a.agent} is a draft again`);
          this.d.events.publish({ type: 'agent.changed', agent: a.agent, what: 'state' });
        }
      },
    };
  }
}
