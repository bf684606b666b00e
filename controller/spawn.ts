import type { Approval } from './approvals/store.ts';
import type { Identity } from './auth/index.ts';
import type { AgentView, Controller } from './controller.ts';
import { HyperhiveError } from './errors.ts';
import { assertAgentName } from './names.ts';
import { casRef, isAncestor, readRefs, resolveRev } from '../repos/refs.ts';
import { changedPaths } from '../repos/diff.ts';
import { listTree } from '../repos/read.ts';

const short = (s: string | null | undefined): string => (s ? s.slice(0, 7) : 'none');

/** How a spawn request came to be: a fresh agent from the templates, or a draft at one of its commits. */
export type SpawnMode = 'new' | 'commit';

export interface SpawnResult { agent: AgentView; approval: Approval | null }

/**
 * The manager's ways to bring an agent into being. Nothing it asks for runs before an operator
 * approves a `spawn` request: `requestSpawn` and `requestSpawnCommit` leave the agent `pending`,
 * `requestSpawnDraft` leaves it a `draft` (repo only) to be edited first.
 */
export class Spawner {
  constructor(private readonly c: Controller) {}

  /** Registers what approving a spawn request does, hooks rejection, and finishes spawns a crash interrupted. */
  register(): void {
    this.c.registerApprovalKind('spawn', { approved: (a, by) => this.approved(a, by) });
    this.c.on('change', (e: { what?: string; id?: number }) => {
      if (e?.what === 'approval' && typeof e.id === 'number') void this.afterDecision(e.id).catch((err) => this.c.log.warn(null, 'spawn', `after request #${e.id}: ${(err as Error).message}`));
    });
    this.recover();
  }

  /** Creates the agent from the templates, `pending`, with a spawn request for its initial config. */
  async requestSpawn(name: string, by: Identity): Promise<SpawnResult> {
    assertAgentName(name);
    const existing = this.c.agents.get(name);
    if (existing) {
      // A spawn that was rejected leaves the agent pending: asking again raises a new request.
      if (existing.state !== 'pending') throw new HyperhiveError('agent_exists', `agent ${JSON.stringify(name)} already exists (${existing.state})`, { name, state: existing.state });
      const open = this.openSpawn(name);
      if (open) throw new HyperhiveError('conflict', `agent ${name} already waits for spawn request #${open.id}`, { name, approval: open.id });
    } else {
      await this.c.createAgent(name, by, 'pending');
    }
    const approval = await this.c.reconciler.queue.exclusive(name, async () => {
      const { applied } = await readRefs(this.c.paths.repo(name));
      if (!applied) throw new HyperhiveError('conflict', `agent ${name} has no applied branch; \`hyperhive repair ${name}\` restores it`);
      const paths = (await listTree(this.c.paths.repo(name), applied)).map((f) => f.path);
      return this.raise(name, null, applied, paths, by, 'new');
    });
    return { agent: await this.c.getAgent(name), approval };
  }

  /** Creates repo and state dir with the agent a `draft`: no runtime, no requests, until requestSpawnCommit. */
  async requestSpawnDraft(name: string, by: Identity): Promise<SpawnResult> {
    assertAgentName(name);
    const agent = await this.c.createAgent(name, by, 'draft');
    return { agent, approval: null };
  }

  /**
   * A spawn request for exactly `commit`, which must be on the draft's `proposed` and descend from
   * its `applied`. On approval `applied` moves to it (compare-and-swap) and the agent becomes active.
   * A newer request for the same agent supersedes an open one.
   */
  async requestSpawnCommit(name: string, commit: string, by: Identity): Promise<SpawnResult> {
    const rec = this.c.requireAgent(name);
    if (rec.state === 'active' || rec.state === 'kept') {
      throw new HyperhiveError('conflict', `agent ${name} is ${rec.state}, not a draft: ${rec.state === 'active' ? 'propose changes to it instead (they raise change requests)' : 'revive it first'}`, { name, state: rec.state });
    }
    if (typeof commit !== 'string' || !/^[0-9a-fA-F]{4,40}$/.test(commit)) {
      throw new HyperhiveError('bad_request', `commit must be a commit SHA (4 to 40 hex digits), got ${JSON.stringify(String(commit).slice(0, 50))}`, { field: 'commit' });
    }
    const repo = this.c.paths.repo(name);
    const approval = await this.c.reconciler.queue.exclusive(name, async () => {
      const sha = await resolveRev(repo, commit.toLowerCase());
      if (!sha) throw new HyperhiveError('not_found', `commit: no commit ${commit} in ${name}'s repository (push it to proposed first)`, { field: 'commit' });
      const refs = await readRefs(repo);
      if (!refs.applied || !refs.proposed) throw new HyperhiveError('conflict', `agent ${name} lacks ${!refs.applied ? 'applied' : 'proposed'}; run \`hyperhive repair ${name}\``);
      if (!(await isAncestor(repo, sha, refs.proposed))) throw new HyperhiveError('bad_request', `commit: ${short(sha)} is not on ${name}'s proposed branch (proposed is ${short(refs.proposed)})`, { field: 'commit' });
      if (!(await isAncestor(repo, refs.applied, sha))) throw new HyperhiveError('bad_request', `commit: ${short(sha)} does not descend from ${name}'s applied ${short(refs.applied)}`, { field: 'commit' });
      const paths = sha === refs.applied ? [] : (await changedPaths(repo, refs.applied, sha)).map((p) => p.path);
      const open = this.openSpawn(name);
      const a = this.raise(name, refs.applied, sha, paths, by, 'commit');
      if (open) this.c.approvals.update(open.id, { status: 'superseded', supersededBy: a.id });
      if (rec.state !== 'pending') this.c.agents.setState(name, 'pending');
      return a;
    });
    this.c.emit('change', { agent: name, what: 'agent' });
    return { agent: await this.c.getAgent(name), approval };
  }

  openSpawn(name: string): Approval | null {
    return this.c.approvals.list({ agent: name, kind: 'spawn', status: ['pending'] }).at(-1) ?? null;
  }

  private raise(name: string, base: string | null, head: string, paths: string[], by: Identity, mode: SpawnMode): Approval {
    const a = this.c.approvals.insert({ kind: 'spawn', agent: name, base, head, status: 'pending', paths, proposer: by.name, data: { mode } });
    this.c.log.info(name, 'spawn-requested', `spawn request #${a.id} by ${by.name} for ${name} at ${short(head)}${mode === 'commit' ? ' (from its draft)' : ''}`, { approval: a.id, head, mode });
    this.c.log.audit({ actor: by.name, action: 'request-spawn', agent: name, approvalId: a.id, base, head, data: { mode } });
    this.c.emit('change', { agent: name, what: 'approval', id: a.id });
    return a;
  }

  /** Runs inside the agent's exclusive section, after the approval is recorded. */
  private async approved(a: Approval, by: Identity): Promise<void> {
    const rec = this.c.requireAgent(a.agent);
    if (rec.state !== 'pending') throw new HyperhiveError('conflict', `agent ${a.agent} is ${rec.state}, not pending: spawn request #${a.id} cannot start it`);
    if (a.data.mode === 'commit' && a.head) {
      const repo = this.c.paths.repo(a.agent);
      const { applied } = await readRefs(repo);
      // The CAS is the decision taking effect; a crash right after it is finished by recover().
      if (applied !== a.head) await casRef(repo, 'applied', a.head, a.base, { pusher: by.name });
      this.c.status.update(a.agent, (s) => { s.lastAppliedRevision = a.head; s.history.push({ ts: Date.now(), op: 'spawn', revision: a.head, result: 'ok', message: `spawn request #${a.id} approved by ${by.name}` }); });
    }
    this.c.agents.setState(a.agent, 'active');
    this.c.approvals.update(a.id, { data: { ...a.data, applied: true } });
    this.c.log.info(a.agent, 'spawned', `agent ${a.agent} is active at ${short(a.head)} (spawn request #${a.id} approved by ${by.name})`, { approval: a.id, head: a.head });
  }

  /** A rejected spawn of a draft's commit gives the draft back to the manager to edit and ask again. */
  private async afterDecision(id: number): Promise<void> {
    const a = this.c.approvals.get(id);
    if (!a || a.kind !== 'spawn' || a.status !== 'rejected' || a.data.mode !== 'commit') return;
    await this.c.reconciler.queue.exclusive(a.agent, async () => {
      const rec = this.c.agents.get(a.agent);
      if (rec?.state === 'pending' && !this.openSpawn(a.agent)) {
        this.c.agents.setState(a.agent, 'draft');
        this.c.log.info(a.agent, 'spawn-rejected', `spawn request #${a.id} rejected: ${a.agent} is a draft again`);
        this.c.emit('change', { agent: a.agent, what: 'agent' });
      }
    });
  }

  /** Approved spawns whose agent is still pending: the controller died inside the handler. */
  private recover(): void {
    for (const a of this.c.approvals.list({ kind: 'spawn', status: ['approved'] })) {
      if (a.data.applied) continue;
      const rec = this.c.agents.get(a.agent);
      if (rec?.state !== 'pending') continue;
      void this.c.reconciler.queue.exclusive(a.agent, async () => {
        const { applied } = await readRefs(this.c.paths.repo(a.agent));
        if (a.data.mode === 'commit' && applied !== a.head) {
          if (applied !== a.base || !a.head) { this.c.approvals.update(a.id, { status: 'failed', error: `applied moved to ${short(applied)} before the spawn completed` }); return; }
          await casRef(this.c.paths.repo(a.agent), 'applied', a.head, a.base, { pusher: a.decidedBy ?? 'controller' });
        }
        this.c.agents.setState(a.agent, 'active');
        this.c.approvals.update(a.id, { data: { ...a.data, applied: true } });
        this.c.log.info(a.agent, 'spawned', `spawn request #${a.id} completed after a restart`, { approval: a.id });
      }).then(() => this.c.reconciler.enqueue(a.agent), (e) => this.c.log.error(a.agent, 'spawn', `completing spawn request #${a.id}: ${(e as Error).message}`));
    }
  }
}
