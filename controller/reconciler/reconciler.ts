import fs from 'node:fs';
import path from 'node:path';
import type { AgentStore } from '../agents/store.ts';
import type { MoveApplied } from '../approvals/move-applied.ts';
import { CONFIG_ERROR_PREFIX, type Approval, type ApprovalStore } from '../approvals/store.ts';
import type { EventStream } from '../events.ts';
import type { Level, ReconLog } from '../log.ts';
import type { StatePaths } from '../paths.ts';
import type { AgentSpec, Prepared, Runtime, RuntimeEvent } from '../runtime/types.ts';
import { readRefs, treeOfWithSource, isAncestor } from '../../repos/refs.ts';
import { looseObjectPath } from '../../repos/objects.ts';
import { diffSummary, patchHash } from '../../repos/diff.ts';
import { gcAuto } from '../../repos/maintenance.ts';
import { plan, describe } from './plan.ts';
import { Semaphore } from '../semaphore.ts';
import { KeyedQueue } from './queue.ts';
import { clearStaleRefLocks, removeLockIfStale, STALE_LOCK_MS } from './stale-locks.ts';
import type { RefEventReader } from './ref-events.ts';
import type { StatusStore } from './status.ts';
import type { Action, Observed } from './types.ts';

export interface ReconcilerDeps {
  paths: StatePaths;
  agents: AgentStore;
  approvals: ApprovalStore;
  /** Completes an approved request a crash cut short, through its kind's handler (the approvals service). */
  completeApproval: (id: number) => Promise<Approval>;
  moveApplied: MoveApplied;
  status: StatusStore;
  log: ReconLog;
  events: EventStream;
  runtime: Runtime;
  refEvents: RefEventReader;
  specFor: (name: string) => AgentSpec;
  now?: () => number;
  resyncMs?: number;
  concurrency?: number;
  backoff?: { minMs: number; maxMs: number };
  /** Evaluates a proposed config when its request is raised; a failure is shown on the request. */
  checkConfig?: (repo: string, revision: string) => Promise<{ ok: boolean; error: string | null }>;
  /** How long after a push the repo gets `git gc --auto` (default 60 s). */
  gcDelayMs?: number;
  /** This many crashes within windowMs make the agent Stalled/CrashLoop (default 5 in 10 min; 0 turns it off). */
  crashLoop?: { crashes: number; windowMs: number };
  /** Prepares (checkouts, builds) running at once across agents (default 4); the others wait their turn. */
  prepareConcurrency?: number;
}

export const DEFAULT_CRASH_LOOP = { crashes: 5, windowMs: 10 * 60_000 };

const short = (s: string | null | undefined): string => (s ? s.slice(0, 7) : 'none');
/** A prepare that a newer revision (or a stop) made moot before it had a slot. */
class Overtaken extends Error {}

const RUNTIME_LEVEL: Partial<Record<RuntimeEvent['type'], Level>> = { crashed: 'warn', 'build-failed': 'error', warning: 'warn' };

/**
 * The loop around plan(): events only enqueue an agent's name; each pass observes, plans, applies.
 * Publishes `agent.changed` (status) after every pass that did something. A revision is prepared
 * outside the agent's slot (a build may take minutes; approvals go on meanwhile) and activated in it.
 */
export class Reconciler {
  readonly queue: KeyedQueue;
  /** Revisions prepared and not yet activated, and the builds under way, by agent. */
  private prepared = new Map<string, Prepared>();
  private builds = new Map<string, { revision: string; done: Promise<void> }>();
  private treeCache = new Map<string, { tree: string; loose: boolean }>();
  private cacheClearedAt = 0;
  private prunedAt = 0;
  private ancestorCache = new Map<string, boolean>();
  private stopWatch: (() => void) | null = null;
  private resyncTimer: NodeJS.Timeout | null = null;
  private now: () => number;

  private offRuntime: () => void;
  /** The last failed prepare per agent, until one succeeds (Stalled/BuildFailed shows it). */
  private buildFailures = new Map<string, { revision: string; error: string; logTail: string }>();
  /** When each agent's running revision crashed, newest last, within the crash-loop window. */
  private crashTimes = new Map<string, { revision: string | null; at: number[] }>();

  private readonly prepares: Semaphore;

  constructor(private d: ReconcilerDeps) {
    this.now = d.now ?? Date.now;
    // At most 4 at once: a cold start with 1,000 agents otherwise began 1,000 checkouts together and
    // starved the event loop (/api/health after ~30 s instead of ~1 s).
    this.prepares = new Semaphore(d.prepareConcurrency ?? 4);
    this.queue = new KeyedQueue((name) => this.reconcile(name), {
      concurrency: d.concurrency ?? 8,
      onError: (name, e) => d.log.error(name, 'reconcile-error', `reconcile failed: ${(e as Error).message}`),
    });
    this.offRuntime = d.runtime.onEvent((e) => {
      if (e.type === 'crashed') this.recordCrash(e.agent, e.revision, e.at ?? this.now());
      if (e.type === 'build-failed') this.buildFailures.set(e.agent, { revision: e.revision ?? '', error: e.error, logTail: e.logTail });
      const { type, agent, message, ...data } = e;
      d.log.write(agent, RUNTIME_LEVEL[type] ?? 'info', `runtime-${type}`, message, data);
      d.events.publish({ type: 'runtime', agent, event: e });
      this.enqueue(agent);
    });
  }

  private recordCrash(agent: string, revision: string | null, at: number): void {
    const c = this.crashTimes.get(agent);
    // A crash of another revision starts the count again: a new config may well have fixed it.
    const times = c && c.revision === revision ? c.at : [];
    times.push(at);
    this.crashTimes.set(agent, { revision, at: times.slice(-100) });
  }

  private crashesOf(agent: string): Observed['crashes'] {
    const cfg = this.d.crashLoop ?? DEFAULT_CRASH_LOOP;
    const c = this.crashTimes.get(agent);
    const since = this.now() - cfg.windowMs;
    const recent = c ? c.at.filter((t) => t > since) : [];
    if (c) c.at = recent;
    return { recent: recent.length, limit: cfg.crashes, windowMs: cfg.windowMs, oldestAt: recent[0] ?? null };
  }

  start(): void {
    this.stopWatch = this.d.refEvents.watch(() => this.ingest());
    this.resync();
    this.resyncTimer = setInterval(() => this.resync(), this.d.resyncMs ?? 30_000);
    this.resyncTimer.unref();
  }

  private stopped = false;

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopWatch?.();
    for (const w of this.repoWatchers.values()) w.close();
    this.repoWatchers.clear();
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    for (const t of this.gcTimers.values()) clearTimeout(t.timer);
    this.gcTimers.clear();
    this.offRuntime();
    this.queue.close();
    await this.queue.idle();
    await Promise.allSettled([...this.builds.values()].map((b) => b.done));
    for (const p of this.prepared.values()) await this.d.runtime.discard(p).catch(() => undefined);
    this.prepared.clear();
  }

  /** Reads new hook events and enqueues the agents they touched. */
  ingest(): void {
    for (const e of this.d.refEvents.read()) if (this.d.agents.get(e.agent)) this.enqueue(e.agent);
  }

  /**
   * Every agent once more, behind any event-driven pass. Trees and ancestry of commits are cached
   * (objects never change), but a cached object that was loose is checked to still exist on every
   * lookup, and the whole cache is dropped every few minutes: a deleted or damaged object is seen
   * without a git process per agent per resync.
   */
  resync(): void {
    if (this.now() - this.cacheClearedAt > 5 * 60_000) {
      this.treeCache.clear();
      this.ancestorCache.clear();
      this.cacheClearedAt = this.now();
    }
    this.ingest();
    if (this.now() - this.prunedAt > 3_600_000) {
      this.prunedAt = this.now();
      try { this.d.refEvents.prune(); } catch (e) { this.d.log.warn(null, 'ref-events-prune', `could not prune old ref events: ${(e as Error).message}`); }
    }
    for (const a of this.d.agents.list({ all: true })) this.queue.enqueue(a.name, { background: true });
  }

  enqueue(name: string): void { this.queue.enqueue(name); }

  /** The revision being prepared for the agent and its end, if a build is under way (a destroy waits for it). */
  buildOf(name: string): { revision: string; done: Promise<void> } | null { return this.builds.get(name) ?? null; }

  /** Discards a prepared, not activated revision (a destroy: nothing half-started is left). Returns its revision. */
  async discardPrepared(name: string): Promise<string | null> {
    const p = this.prepared.get(name);
    if (!p) return null;
    this.prepared.delete(name);
    await this.d.runtime.discard(p).catch((e) => this.d.log.warn(name, 'discard-failed', `could not discard prepared ${short(p.revision)}: ${(e as Error).message}`));
    return p.revision;
  }

  /** Drops what the loop remembers of an agent whose repo is gone (a purge): a new agent of that name starts fresh. */
  forget(name: string): void {
    this.repoWatchers.get(name)?.close();
    this.repoWatchers.delete(name);
    this.sanctionedCache.delete(name);
    this.buildFailures.delete(name);
    this.crashTimes.delete(name);
    const gc = this.gcTimers.get(name);
    if (gc) { clearTimeout(gc.timer); this.gcTimers.delete(name); }
  }

  /** Waits until the agent has no pass running or queued: the API uses it to answer with settled state. */
  settled(name: string): Promise<void> { return this.queue.settled(name); }

  private async tree(repo: string, sha: string): Promise<string> {
    const k = `${repo}\0${sha}`;
    const c = this.treeCache.get(k);
    if (c && (!c.loose || fs.existsSync(looseObjectPath(repo, sha)))) return c.tree;
    const t = await treeOfWithSource(repo, sha);
    if (this.treeCache.size > 50_000) this.treeCache.clear();
    this.treeCache.set(k, t);
    return t.tree;
  }

  private async ancestor(repo: string, a: string, b: string): Promise<boolean> {
    if (a === b) return true;
    const k = `${repo}\0${a}\0${b}`;
    let v = this.ancestorCache.get(k);
    if (v === undefined) { v = await isAncestor(repo, a, b); if (this.ancestorCache.size > 50_000) this.ancestorCache.clear(); this.ancestorCache.set(k, v); }
    return v;
  }

  private sanctionedCache = new Map<string, string>();

  /** Was `sha` put on applied by a sanctioning decision (SANCTIONING)? Only those may run. */
  sanctioned(name: string, sha: string): boolean {
    if (this.sanctionedCache.get(name) === sha) return true;
    const ok = this.d.log.isSanctionedApplied(name, sha);
    if (ok) this.sanctionedCache.set(name, sha);
    return ok;
  }

  lastSanctioned(name: string): string | null {
    return this.d.log.lastSanctioned(name);
  }

  async observe(name: string): Promise<Observed | null> {
    const rec = this.d.agents.get(name);
    if (!rec) return null;
    const repo = this.d.paths.repo(name);
    const refs = await readRefs(repo);
    let trees: Observed['trees'] = { applied: null, proposed: null };
    let objectsError: string | null = null;
    let proposedDescends = false;
    if (refs.applied && refs.proposed) {
      try {
        // Independent git reads run side by side: each is a process start.
        const [ta, tp, desc] = await Promise.all([this.tree(repo, refs.applied), this.tree(repo, refs.proposed), this.ancestor(repo, refs.applied, refs.proposed)]);
        trees = { applied: ta, proposed: tp };
        proposedDescends = desc;
      } catch (e) {
        objectsError = (e as Error).message.split('\n')[0]!.slice(0, 300);
      }
    }
    const [open, ...older] = this.d.approvals.openChanges(name);
    const st = this.d.status.get(name);
    const appliedSanctioned = !refs.applied || this.sanctioned(name, refs.applied);
    const rt = this.d.runtime.status(name);
    const incomplete = this.d.approvals.approvedIncomplete(name)[0];
    return {
      now: this.now(),
      agent: { name, state: rec.state, suspended: rec.suspended },
      refs: { applied: refs.applied, proposed: refs.proposed },
      trees, objectsError, proposedDescends,
      openRequest: open ? { id: open.id, base: open.base, head: open.head, status: open.status as 'pending' | 'diverged' } : null,
      olderOpen: older.map((r) => r.id),
      rejectedPair: !!(refs.applied && refs.proposed && this.d.approvals.findDecided(name, refs.applied, refs.proposed, 'rejected')),
      approvedIncomplete: incomplete ? { id: incomplete.id, kind: incomplete.kind } : null,
      // The reconciler's own record of its build first: the runtime clears `building` a moment
      // before the reconciler holds the prepared revision.
      runtime: { state: rt.state, revision: rt.revision, building: this.builds.get(name)?.revision ?? rt.building },
      prepared: this.prepared.get(name)?.revision ?? null,
      failures: st.failures,
      nextAttemptAt: st.nextAttemptAt,
      lastApplied: st.lastAppliedRevision,
      appliedSanctioned,
      lastSanctioned: appliedSanctioned ? refs.applied : this.lastSanctioned(name),
      buildFailure: this.buildFailures.get(name) ?? null,
      crashes: this.crashesOf(name),
    };
  }

  /** One pass for one agent. Never called concurrently for the same agent (the queue sees to it). */
  async reconcile(name: string): Promise<void> {
    const t0 = performance.now();
    this.watchRepo(name);
    this.clearStaleAppliedLock(name);
    this.clearStaleSharedLocks(name);
    // Through ingest(), never read() alone: events read here must still enqueue their agents, or a
    // push read by another agent's pass would wait for the next resync (seen: 30 s with 200 agents).
    this.ingest();
    const o = await this.observe(name);
    if (!o) return;
    const observeMs = Math.round(performance.now() - t0);
    const p = plan(o);
    const before = JSON.stringify(this.d.status.get(name).conditions);
    // Skip the write that changes nothing: most passes (resyncs, hints) find the agent as it was.
    if (before !== JSON.stringify(p.conditions)) this.d.status.update(name, (s) => { s.conditions = p.conditions; });
    if (p.conditions.some((c) => c.type === 'Stalled' && c.status === 'True') && before !== JSON.stringify(p.conditions)) {
      const c = p.conditions.find((x) => x.type === 'Stalled')!;
      this.d.log.error(name, 'stalled', c.message, { reason: c.reason });
    }
    if (p.actions.length) this.d.log.info(name, 'planned', p.actions.map(describe).join('; '), { actions: p.actions.map((a) => a.type) });
    for (const a of p.actions) await this.act(name, a, observeMs);
    if (p.requeueAt !== null) this.queue.enqueueAt(name, p.requeueAt);
    if (p.actions.length) this.enqueue(name); // look again: the actions changed what is observed
    if (p.actions.length || before !== JSON.stringify(p.conditions)) this.d.events.publish({ type: 'agent.changed', agent: name, what: 'status' });
  }

  /**
   * git leaves refs/heads/applied.lock behind when it is killed inside update-ref (the controller's
   * process group SIGKILLed, the OOM killer), and then refuses every later CAS of `applied`, so an
   * approved request would never be carried out. Only the controller writes `applied`, and never for
   * this agent while its pass runs: a lock seen here is stale. `applied` keeps its old value.
   */
  private clearStaleAppliedLock(name: string): void {
    const lock = path.join(this.d.paths.repo(name), 'refs', 'heads', 'applied.lock');
    // Any age: see above. The same removal as the shared locks', with no grace period.
    if (removeLockIfStale(lock, { olderThanMs: -Infinity }) !== 'removed') return;
    this.d.log.warn(name, 'stale-lock-removed', `removed ${lock}, left by a git process killed while moving applied`);
  }

  /**
   * proposed, live and packed-refs are also written by pushes, so their locks are only stale when
   * old (git holds a ref lock for milliseconds); one left by a killed git would refuse every later
   * push and controller commit to that branch.
   */
  private clearStaleSharedLocks(name: string): void {
    for (const f of clearStaleRefLocks(this.d.paths.repo(name)).removed) {
      this.d.log.warn(name, 'stale-lock-removed', `removed ${f}, older than ${STALE_LOCK_MS / 1000} s: left by a git process killed while updating a ref`);
    }
  }

  private repoWatchers = new Map<string, fs.FSWatcher>();

  /**
   * Watches the repo's branch files: a push is seen the moment git renames `proposed.lock` over
   * `proposed`, before the reference-transaction hook has started to write its line (a shell and a
   * `date` later). Only a hint, like every event here; who pushed still comes from the hook's line.
   */
  private watchRepo(name: string): void {
    if (this.stopped || this.repoWatchers.has(name)) return;
    try {
      const w = fs.watch(path.join(this.d.paths.repo(name), 'refs', 'heads'), (_ev, file) => {
        if (!file || !String(file).endsWith('.lock')) this.enqueue(name);
      });
      w.on('error', () => { w.close(); this.repoWatchers.delete(name); });
      this.repoWatchers.set(name, w);
    } catch { /* no repo (yet): the events file and the resync cover it */ }
  }

  /**
   * Who moved proposed to `head`, from the hook's line. A pass started by the branch watcher can be
   * ahead of that line by a few milliseconds: wait for it briefly before calling the proposer unknown.
   */
  private async proposerOf(name: string, head: string): Promise<string> {
    for (let i = 0; ; i++) {
      const p = this.d.refEvents.pusherOf(name, 'refs/heads/proposed', head);
      if (p !== null) return p;
      if (i >= 40 || this.stopped) return 'unknown';
      await new Promise((r) => setTimeout(r, 10));
      this.ingest();
    }
  }

  private gcTimers = new Map<string, { timer: NodeJS.Timeout; since: number }>();

  /**
   * Pushes skip `git gc --auto` (receive.autogc is off: the pusher would wait for it); the
   * controller runs it a while after a push instead, in a quiet spell, or at the latest 10 minutes
   * after the first push it was put off for. Concurrent pushes and reads are safe with gc (git runs
   * it the same way after a push).
   */
  private scheduleGc(name: string): void {
    const delay = this.d.gcDelayMs ?? 60_000;
    const old = this.gcTimers.get(name);
    if (old && this.now() - old.since > 10 * delay) return;
    if (old) clearTimeout(old.timer);
    const timer = setTimeout(() => {
      this.gcTimers.delete(name);
      gcAuto(this.d.paths.repo(name)).catch((e) => this.d.log.warn(name, 'gc-failed', `git gc --auto: ${(e as Error).message.split('\n')[0]}`));
    }, delay);
    timer.unref();
    this.gcTimers.set(name, { timer, since: old?.since ?? this.now() });
  }

  /** Records the config check's verdict on the request: `data.configCheck` is 'ok' or 'failed' (with `error`). */
  private async annotateConfig(name: string, id: number, repo: string, head: string): Promise<void> {
    try {
      const check = await this.d.checkConfig!(repo, head);
      if (this.stopped) return;
      const cur = this.d.approvals.get(id);
      if (!cur) return;
      const data = { ...cur.data, configCheck: check.ok ? 'ok' : 'failed' };
      if (check.ok) {
        this.d.approvals.update(id, { data });
      } else {
        this.d.approvals.update(id, { data, error: `${CONFIG_ERROR_PREFIX}${check.error}` });
        this.d.log.warn(name, 'config-invalid', `request #${id}: the proposed config does not evaluate, so it cannot be approved: ${check.error}`, { approval: id });
      }
      this.d.events.publish({ type: 'request.updated', agent: name, id });
    } catch (e) {
      if (!this.stopped) this.d.log.warn(name, 'config-check-failed', `request #${id}: could not evaluate the config: ${(e as Error).message}`, { approval: id });
    }
  }

  /** `observeMs`: how long the pass took to observe, logged with a raise. */
  private async act(name: string, a: Action, observeMs: number): Promise<void> {
    const repo = this.d.paths.repo(name);
    const { log, approvals, status } = this.d;
    switch (a.type) {
      case 'complete-approval': {
        await this.d.completeApproval(a.id);
        return;
      }
      case 'fast-forward': {
        await this.d.moveApplied(name, a.from, a.to, 'fast-forward', 'controller', { note: 'same tree' });
        status.update(name, (s) => { s.lastAppliedRevision = a.to; s.history.push({ ts: this.now(), op: 'fast-forward', revision: a.to, result: 'info', message: 'same tree as applied: moved without a request' }); });
        log.info(name, 'fast-forward', `applied ${short(a.from)}→${short(a.to)} without a request: proposed has applied's tree, nothing changes in what runs`, { from: a.from, to: a.to });
        return;
      }
      case 'supersede': {
        approvals.update(a.id, { status: 'superseded', reason: a.reason, ...(a.by !== undefined ? { supersededBy: a.by } : {}) });
        log.info(name, 'request-superseded', `request #${a.id} superseded: ${a.reason}`, { approval: a.id, ...(a.by !== undefined ? { by: a.by } : {}) });
        this.d.events.publish({ type: 'request.superseded', agent: name, id: a.id, by: a.by ?? null });
        return;
      }
      case 'raise': {
        const td = performance.now();
        let diffMs = 0;
        // Side by side: a pass started by the branch watcher is usually ahead of the hook's line
        // (who pushed), and the diff's git process covers that wait.
        const [{ paths, patch: patchText }, proposer] = await Promise.all([
          diffSummary(repo, a.base, a.head).then((d) => { diffMs = Math.round(performance.now() - td); return d; }),
          this.proposerOf(name, a.head),
        ]);
        // Where the pass's time went, for operators reading the log and for the benchmark (raiseMs:
        // the diff and the hook's line both in hand).
        const timing = { observeMs, diffMs, raiseMs: Math.round(performance.now() - td) };
        const hash = patchHash(patchText);
        const added = paths.reduce((n, p) => n + p.additions, 0);
        const deleted = paths.reduce((n, p) => n + p.deletions, 0);
        // The new request, the old one superseded, their log lines and the audit row: one
        // transaction, so a kill in between cannot leave two open requests or a request without its
        // audit row (the crash test once saw two pending after a kill between insert and supersede).
        const req = approvals.atomically(() => {
          const r = approvals.insert({
            kind: 'change', agent: name, base: a.base, head: a.head, status: a.status, proposer,
            paths: paths.map((p) => p.path), patchHash: hash,
            data: { additions: added, deletions: deleted, files: paths.map((p) => ({ path: p.path, status: p.status, oldPath: p.oldPath, binary: p.binary, additions: p.additions, deletions: p.deletions })) },
          });
          if (a.supersedes !== null) {
            approvals.update(a.supersedes, { status: 'superseded', supersededBy: r.id, reason: `superseded by request #${r.id} (${short(a.base)}..${short(a.head)})` });
            log.info(name, 'request-superseded', `request #${a.supersedes} superseded by #${r.id}`, { approval: a.supersedes, by: r.id });
          }
          if (a.status === 'diverged') log.warn(name, 'request-diverged', `request #${r.id}: proposed ${short(a.head)} does not descend from applied ${short(a.base)}; nothing will be applied until proposed is rebased on applied`, { approval: r.id, base: a.base, head: a.head, proposer });
          else log.info(name, 'request-raised', `request #${r.id} raised for ${short(a.base)}..${short(a.head)} by ${proposer}: ${paths.length} path(s), +${added} -${deleted}`, { approval: r.id, base: a.base, head: a.head, proposer, patchHash: hash, ...timing });
          log.audit({ actor: proposer, action: a.status === 'diverged' ? 'diverged' : 'propose', agent: name, approvalId: r.id, base: a.base, head: a.head, patchHash: hash });
          return r;
        });
        // Evaluating Nix takes longer than raising the request: operators see the request at once and
        // the verdict a moment later; approve evaluates again anyway (422).
        // Started a moment later: its process spawn (a fork of this large process) would otherwise
        // hold up the API answering that the request exists.
        if (this.d.checkConfig) {
          const t = setTimeout(() => { if (!this.stopped) void this.annotateConfig(name, req.id, repo, a.head); }, 50);
          t.unref();
        }
        if (a.supersedes !== null) this.d.events.publish({ type: 'request.superseded', agent: name, id: a.supersedes, by: req.id });
        this.d.events.publish({ type: 'request.raised', agent: name, id: req.id, kind: 'change' });
        this.scheduleGc(name);
        return;
      }
      case 'prepare-runtime': {
        status.update(name, (s) => { s.lastAttemptedRevision = a.revision; });
        log.info(name, 'apply-started', `applying ${short(a.revision)} to the ${this.d.runtime.kind} runtime (${a.reason})`, { revision: a.revision });
        this.startBuild(name, a.revision);
        return;
      }
      case 'activate-runtime': {
        const p = this.prepared.get(name);
        if (!p || p.revision !== a.revision) return;
        this.prepared.delete(name);
        try {
          await this.d.runtime.activate(p);
          status.update(name, (s) => {
            s.lastAppliedRevision = a.revision; s.failures = 0; s.nextAttemptAt = null;
            s.history.push({ ts: this.now(), op: 'apply', revision: a.revision, result: 'ok', message: `runtime runs ${short(a.revision)}` });
          });
          log.info(name, 'apply-succeeded', `runtime runs ${short(a.revision)}`, { revision: a.revision });
        } catch (e) {
          this.applyFailed(name, a.revision, e as Error);
        }
        return;
      }
      case 'discard-prepared': {
        const p = this.prepared.get(name);
        if (!p || p.revision !== a.revision) return;
        this.prepared.delete(name);
        await this.d.runtime.discard(p).catch((e) => log.warn(name, 'discard-failed', `could not discard prepared ${short(a.revision)}: ${(e as Error).message}`));
        log.info(name, 'prepared-discarded', `prepared ${short(a.revision)} discarded: ${a.reason}`, { revision: a.revision });
        return;
      }
      case 'stop-runtime': {
        await this.d.runtime.stop(name);
        log.info(name, 'runtime-stopped', `runtime stopped: ${a.reason}`);
        return;
      }
    }
  }

  /**
   * Prepares `revision` beside what runs, outside the agent's slot: a build of minutes must not hold
   * up that agent's approvals. Its end (ready, or failed with backoff) wakes the agent; a build that
   * a newer one overtook is discarded.
   */
  private startBuild(name: string, revision: string): void {
    const done = this.prepares.run(() => {
      // Overtaken or stopped while it waited for a slot: nothing to prepare (the .then below discards nothing).
      const current = this.builds.get(name);
      if (this.stopped || (current && current.revision !== revision)) return Promise.reject(new Overtaken());
      return this.d.runtime.prepare(this.d.specFor(name), revision);
    }).then(
      async (p) => {
        if (this.stopped || this.builds.get(name)?.revision !== revision) { await this.d.runtime.discard(p).catch(() => undefined); return; }
        const old = this.prepared.get(name);
        this.prepared.set(name, p);
        if (this.buildFailures.get(name)?.revision === revision) this.buildFailures.delete(name);
        if (old) await this.d.runtime.discard(old).catch(() => undefined);
      },
      (e) => {
        if (e instanceof Overtaken || this.stopped || this.builds.get(name)?.revision !== revision) return;
        // The runtime's build-failed event carries the log's tail; a failure before the build started has only its message.
        if (this.buildFailures.get(name)?.revision !== revision) this.buildFailures.set(name, { revision, error: (e as Error).message, logTail: (e as { logTail?: string }).logTail ?? (e as Error).message });
        this.applyFailed(name, revision, e as Error);
      },
    ).finally(() => {
      if (this.builds.get(name)?.revision === revision) this.builds.delete(name);
      if (!this.stopped) this.enqueue(name);
    });
    this.builds.set(name, { revision, done });
  }

  /** A failed prepare or activation: counted, with the next attempt after an exponential backoff. */
  private applyFailed(name: string, revision: string, e: Error): void {
    const bo = this.d.backoff ?? { minMs: 1000, maxMs: 300_000 };
    const s = this.d.status.update(name, (s) => {
      s.failures += 1;
      s.nextAttemptAt = this.now() + Math.min(bo.maxMs, bo.minMs * 2 ** (s.failures - 1));
      s.history.push({ ts: this.now(), op: 'apply', revision, result: 'failed', message: e.message.slice(0, 500) });
    });
    this.d.log.error(name, 'apply-failed', `apply of ${short(revision)} failed (attempt ${s.failures}, next in ${Math.round((s.nextAttemptAt! - this.now()) / 1000)}s): ${e.message}`, { revision });
  }
}
