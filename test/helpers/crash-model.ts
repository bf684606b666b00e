import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { agentProcesses } from './cli-server.ts';
import { GitFacts } from './crash-git.ts';
import { fsckProblems, refEvents, refOf } from './git.ts';

export interface Req {
  id: number; kind: string; agent: string; base: string | null; head: string | null; status: string;
  supersededBy: number | null; createdAt: number; reason: string | null; error: string | null;
}
export interface AuditRow { action: string; actor: string; approvalId: number | null; base: string | null; head: string | null }
export type Api = <T = any>(method: string, route: string, body?: unknown) => Promise<{ status: number; body: T }>;

const ZERO = '0'.repeat(40);
const short = (s: string | null | undefined) => (s ? s.slice(0, 7) : 'none');

/**
 * What the test itself knows happened (independent of the controller's word): which requests it saw
 * pending, which it sent an approval for, and each agent's first applied commit. The checks compare
 * the controller's state after every restart against it.
 */
export class CrashModel {
  readonly approveSent = new Map<number, { agent: string; head: string }>();
  readonly seenPending = new Map<number, { agent: string; base: string; head: string }>();
  readonly roots = new Map<string, string>();
  /** Things worth reporting that are not violations (e.g. a ref move whose hook was killed with the server). */
  readonly notes: string[] = [];
  readonly facts = new GitFacts();

  constructor(readonly state: string, readonly agents: string[]) {}

  repo(agent: string): string { return path.join(this.state, 'repos', `${agent}.git`); }

  sawPending(list: Req[]): void {
    for (const r of list) if (r.kind === 'change' && r.status === 'pending' && r.base && r.head) this.seenPending.set(r.id, { agent: r.agent, base: r.base, head: r.head });
  }
}

export interface AgentObservation {
  name: string; applied: string; proposed: string; open: Req[]; ready: boolean; runtime: { state: string; revision: string | null; pid: number | null };
  revisionFile: string | null; processes: number[];
}

/** One look at an agent; `problem` is null when it has converged (c): the open request matches the trees, the runtime runs applied, Ready. */
export async function observeAgent(api: Api, m: CrashModel, name: string): Promise<{ obs: AgentObservation | null; problem: string | null }> {
  const a = await api('GET', `/api/agents/${name}`);
  if (a.status !== 200) return { obs: null, problem: `GET /api/agents/${name} → ${a.status} ${JSON.stringify(a.body).slice(0, 200)}` };
  const open = await api<Req[]>('GET', `/api/approvals?agent=${name}&status=pending,diverged`);
  if (open.status !== 200) return { obs: null, problem: `GET /api/approvals → ${open.status}` };
  let revisionFile: string | null = null;
  try { revisionFile = fs.readFileSync(path.join(m.state, 'agents', name, 'config', '.hyperhive-revision'), 'utf8').trim(); } catch { /* not yet */ }
  const obs: AgentObservation = {
    name, applied: a.body.applied, proposed: a.body.proposed, open: open.body.filter((r) => r.kind === 'change'),
    ready: a.body.conditions?.find((c: { type: string }) => c.type === 'Ready')?.status === 'True',
    runtime: a.body.runtime, revisionFile,
    processes: agentProcesses(m.state).filter((p) => p.agent === name).map((p) => p.pid),
  };
  const repo = m.repo(name);
  if (!obs.applied || !obs.proposed) return { obs, problem: `${name}: applied=${short(obs.applied)} proposed=${short(obs.proposed)}` };
  const differ = (await m.facts.tree(repo, obs.applied)) !== (await m.facts.tree(repo, obs.proposed));
  if (differ) {
    const [o] = obs.open;
    if (obs.open.length !== 1 || o!.status !== 'pending' || o!.base !== obs.applied || o!.head !== obs.proposed) {
      return { obs, problem: `${name}: trees differ (${short(obs.applied)}..${short(obs.proposed)}) but open requests are ${JSON.stringify(obs.open.map((r) => ({ id: r.id, status: r.status, base: short(r.base), head: short(r.head) })))}` };
    }
  } else if (obs.open.length) {
    return { obs, problem: `${name}: same tree in applied and proposed but open requests ${obs.open.map((r) => `#${r.id}`).join(', ')}` };
  }
  if (obs.runtime.state !== 'running' || obs.runtime.revision !== obs.applied) return { obs, problem: `${name}: runtime ${obs.runtime.state} on ${short(obs.runtime.revision)}, applied ${short(obs.applied)}` };
  if (!obs.ready) return { obs, problem: `${name}: Ready is not True` };
  if (obs.revisionFile !== obs.applied) return { obs, problem: `${name}: .hyperhive-revision says ${short(obs.revisionFile)}, applied ${short(obs.applied)}` };
  if (obs.processes.length !== 1 || obs.processes[0] !== obs.runtime.pid) return { obs, problem: `${name}: agent processes ${JSON.stringify(obs.processes)}, runtime pid ${obs.runtime.pid} (exactly one expected: stale ones must be killed)` };
  return { obs, problem: null };
}

/** Waits (generously) until every agent converged; throws with the last mismatch when it does not. */
export async function waitConverged(api: Api, m: CrashModel, timeoutMs: number, pollMs = 200): Promise<AgentObservation[]> {
  const end = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const results = await Promise.all(m.agents.map((n) => observeAgent(api, m, n)));
      const problems = results.map((r) => r.problem).filter(Boolean);
      if (!problems.length) return results.map((r) => r.obs!);
      last = problems.join('; ');
    } catch (e) { last = `error: ${(e as Error).message}`; }
    if (Date.now() > end) throw new Error(`not converged within ${timeoutMs} ms: ${last}`);
    // Each look costs the server a git process per agent: poll gently, the figures live in the benchmark.
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

async function auditFor(api: Api, m: CrashModel, agent: string): Promise<AuditRow[]> {
  const r = await api<AuditRow[]>('GET', `/api/audit?agent=${agent}`);
  if (r.status !== 200) throw new Error(`GET /api/audit → ${r.status}`);
  if (r.body.length < 200) return r.body;
  // The route caps its answer; a long run reads the rest from the same table.
  const db = new Database(path.join(m.state, 'hyperhive.db'), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT action, actor, approval_id AS approvalId, base, head FROM audit WHERE agent = ?').all(agent) as AuditRow[]);
  } finally { db.close(); }
}

/** Invariants (a), (b) and (d) for one converged agent; returns violations (empty when all hold). */
export async function checkAgent(api: Api, m: CrashModel, obs: AgentObservation): Promise<string[]> {
  const v: string[] = [];
  const name = obs.name;
  const repo = m.repo(name);

  // (a) No pending request lost; nothing approved that the test did not approve.
  const all = await api<Req[]>('GET', `/api/approvals?agent=${name}`);
  if (all.status !== 200) return [`GET /api/approvals?agent=${name} → ${all.status}`];
  const byId = new Map(all.body.map((r) => [r.id, r]));
  for (const [id, seen] of m.seenPending) {
    if (seen.agent !== name) continue;
    const r = byId.get(id);
    if (!r) { v.push(`request #${id} (${short(seen.base)}..${short(seen.head)}) was pending and is gone`); continue; }
    if (r.status === 'pending') continue;
    if (r.status === 'approved') { if (!m.approveSent.has(id)) v.push(`request #${id} is approved but the test never approved it`); continue; }
    if (r.status === 'superseded') {
      const by = r.supersededBy ? byId.get(r.supersededBy) : undefined;
      if (!by || by.id < id || by.head === r.head) v.push(`request #${id} was superseded without a newer request for a new head (supersededBy ${r.supersededBy}, reason ${JSON.stringify(r.reason)})`);
      continue;
    }
    v.push(`request #${id} was pending and is now ${r.status} (${r.reason ?? r.error ?? ''})`);
  }
  for (const r of all.body) {
    if (r.kind !== 'change') continue;
    if (r.status === 'approved' && !m.approveSent.has(r.id)) v.push(`request #${r.id} is approved but the test never approved it`);
    if (!['pending', 'approved', 'superseded'].includes(r.status)) v.push(`request #${r.id} is ${r.status} (${r.reason ?? r.error ?? ''}): nothing in this run should end so`);
  }
  if (all.body.filter((r) => r.kind === 'change' && (r.status === 'pending' || r.status === 'diverged')).length > 1) v.push(`${name} has more than one open request`);

  // (b) Every value `applied` ever had is the template root, an approved head, or a same-tree fast-forward, and it only moved forward.
  const audit = await auditFor(api, m, name);
  const approvedHeads = new Map<string, number>();
  for (const e of audit) {
    if (e.action !== 'approve') continue;
    const sent = e.approvalId !== null ? m.approveSent.get(e.approvalId) : undefined;
    if (!sent || sent.head !== e.head || sent.agent !== name) v.push(`audit records approval #${e.approvalId} of ${short(e.head)} by ${e.actor}, which the test never sent`);
    if (e.head) approvedHeads.set(e.head, e.approvalId ?? 0);
  }
  const mine = new Map<string, number>();
  for (const [id, s] of m.approveSent) if (s.agent === name) mine.set(s.head, id);
  const root = m.roots.get(name);
  const allowed = async (sha: string, prev: string | null): Promise<string | null> => {
    if (sha === root || approvedHeads.has(sha)) return null;
    if (mine.has(sha)) return `applied was ${short(sha)}, the head of request #${mine.get(sha)} the test approved, but the audit trail has no approve entry for it`;
    if (prev && await m.facts.isAncestor(repo, prev, sha) && (await m.facts.tree(repo, prev)) === (await m.facts.tree(repo, sha))) return null;
    return `applied was ${short(sha)}, which no approved request has as head (and not a same-tree fast-forward of ${short(prev)})`;
  };
  const onDisk = refOf(repo, 'applied');
  if (onDisk !== obs.applied) v.push(`git rev-parse applied says ${short(onDisk)}, the API said ${short(obs.applied)}`);
  const moves = refEvents(path.join(m.state, 'events', 'refs.jsonl')).filter((e) => e.agent === name && e.ref === 'refs/heads/applied');
  // The template root is written before the hooks are installed: the record starts after it.
  let prev: string | null = root ?? null;
  for (const mv of moves) {
    if (mv.new === ZERO) { v.push(`applied of ${name} was deleted (old ${short(mv.old)})`); continue; }
    if (mv.old !== ZERO && !(await m.facts.isAncestor(repo, mv.old, mv.new))) v.push(`applied of ${name} moved from ${short(mv.old)} to ${short(mv.new)}, not forward`);
    if (mv.old === ZERO && mv.new !== root) v.push(`applied of ${name} was created at ${short(mv.new)}, not the template root ${short(root)}`);
    const why = await allowed(mv.new, mv.old === ZERO ? prev : mv.old);
    if (why) v.push(why);
    prev = mv.new;
  }
  if (obs.applied !== prev) {
    // A SIGKILL of the server's process group can land between git's ref update and the hook's append.
    m.notes.push(`${name}: applied ${short(obs.applied)} has no hook record (last recorded ${short(prev)})`);
    if (prev && !(await m.facts.isAncestor(repo, prev, obs.applied))) v.push(`applied of ${name} is ${short(obs.applied)}, not a descendant of the last recorded ${short(prev)}`);
    const why = await allowed(obs.applied, prev);
    if (why) v.push(why);
  }

  // (d) The repo is intact.
  const fsck = await fsckProblems(repo);
  if (fsck) v.push(`${name}: ${fsck}`);
  return v;
}

/** The sqlite file is intact (read-only, beside the running server: WAL allows it). */
export function sqliteProblems(state: string): string | null {
  const db = new Database(path.join(state, 'hyperhive.db'), { readonly: true, fileMustExist: true });
  try {
    const r = db.pragma('quick_check', { simple: true });
    return r === 'ok' ? null : `sqlite quick_check: ${String(r)}`;
  } finally { db.close(); }
}

/**
 * What a kill may never leave behind, read from the database while the server is down (a restart
 * would heal some of it before checkAll could see it): two open change requests for one agent means
 * a raise was not one transaction.
 */
export function killedStateProblems(state: string): string | null {
  const db = new Database(path.join(state, 'hyperhive.db'), { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare("SELECT agent, group_concat(id) AS ids FROM approvals WHERE kind = 'change' AND status IN ('pending', 'diverged') GROUP BY agent HAVING count(*) > 1").all() as { agent: string; ids: string }[];
    return rows.length ? rows.map((r) => `${r.agent}: several open change requests after the kill (#${r.ids.split(',').join(', #')})`).join('\n') : null;
  } finally { db.close(); }
}
