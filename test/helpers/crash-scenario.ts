import fs from 'node:fs';
import path from 'node:path';
import { tmpDir } from './paths.ts';
import { CrashModel, checkAgent, sqliteProblems, killedStateProblems, waitConverged, type Api, type Req } from './crash-model.ts';
import { propose } from './crash-git.ts';
import { agentProcesses, freePort, httpJson, killAgentProcesses, spawnCli, waitHealthy, type CliServer } from './cli-server.ts';

export interface CrashRoundOptions {
  /** Kills in this round (a kill during startup counts). */
  kills: number;
  agents?: string[];
  seed?: number;
  /** Share of proposals made by a real `git push` by path; the rest are plumbing commits (same ref hook, no node pre-receive). */
  pushShare?: number;
  convergeTimeoutMs?: number;
  log?: (line: string) => void;
  /** Keep the state dir on success too (it is always kept on failure). */
  keep?: boolean;
}

export interface CrashRoundStats {
  seed: number; state: string; kills: number; startupKills: number; approveKills: number; applyKills: number;
  proposals: number; pushes: number; downProposals: number; approvalsSent: number; approvalsOk: number;
  restarts: number; elapsedMs: number; notes: string[];
  /** Wall time spent: spawn → health, health → converged, checking invariants, the random steps. */
  phases: { startMs: number; convergeMs: number; checkMs: number; stepsMs: number };
}

export class CrashViolation extends Error {}

/** The built-in idle agent: a small node process that logs its revision and stays up (no harness, no model calls). */
export const AGENT_ENV = { HYPERHIVE_AGENT_COMMAND: 'idle' };

/** mulberry32: a small seeded PRNG, so a failing round can be replayed with its seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const short = (s: string | null | undefined) => (s ? s.slice(0, 7) : 'none');

/**
 * One round of the crash test on a fresh state dir: the real CLI server, a few agents, random
 * propose/approve/apply steps, SIGKILL of the server's process group 0–300 ms after a step (or
 * during startup), restart on the same state and port, and the invariants after every restart.
 * Throws CrashViolation on the first broken invariant; cleans up every process it started.
 */
export async function runCrashRound(o: CrashRoundOptions): Promise<CrashRoundStats> {
  const seed = o.seed ?? (Math.random() * 2 ** 32) >>> 0;
  const rand = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const delay = () => (rand() < 0.3 ? 0 : Math.floor(rand() * 301));
  const log = o.log ?? (() => {});
  const agents = o.agents ?? ['alpha', 'beta', 'gamma'];
  const pushShare = o.pushShare ?? 0.3;
  const convergeMs = o.convergeTimeoutMs ?? 90_000;
  const state = tmpDir('hh-crash-');
  const port = await freePort();
  const m = new CrashModel(state, agents);
  const stats: CrashRoundStats = { seed, state, kills: 0, startupKills: 0, approveKills: 0, applyKills: 0, proposals: 0, pushes: 0, downProposals: 0, approvalsSent: 0, approvalsOk: 0, restarts: 0, elapsedMs: 0, notes: m.notes, phases: { startMs: 0, convergeMs: 0, checkMs: 0, stepsMs: 0 } };
  const timed = async <T>(phase: keyof CrashRoundStats['phases'], f: () => Promise<T>): Promise<T> => {
    const t = Date.now();
    try { return await f(); } finally { stats.phases[phase] += Date.now() - t; }
  };
  const t0 = Date.now();
  let server: CliServer | null = null;
  let token = '';
  // Approvals wait for the agent's queue and a config evaluation: minutes are possible on a loaded machine.
  const api: Api = (method, route, body) => httpJson(server!.url, method, route, { token, body, timeoutMs: 120_000 });
  const inflight = new Set<Promise<unknown>>();
  const track = <T>(p: Promise<T>): void => { const q = p.catch(() => undefined); inflight.add(q); void q.finally(() => inflight.delete(q)); };

  const start = async (): Promise<void> => {
    server = spawnCli(state, port, AGENT_ENV);
    await timed('startMs', () => waitHealthy(server!));
    if (!token) {
      const file = path.join(state, 'operator.token');
      const end = Date.now() + 10_000;
      while (!fs.existsSync(file) && Date.now() < end) await sleep(20);
      token = fs.readFileSync(file, 'utf8').trim();
    }
    // The Contract: /api/health answers 200 once the server accepts work, so the token must work now.
    const r = await api('GET', '/api/agents');
    if (r.status !== 200) fail(`/api/health answered 200 but GET /api/agents with the operator token right after → ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
  };
  const kill = async (what: string): Promise<void> => {
    await server!.kill9();
    stats.kills += 1;
    log(`kill ${stats.kills} (${what})`);
    // Answers to requests cut by the kill carry no information; wait for them to fail.
    await Promise.all([...inflight]);
    const broken = killedStateProblems(state);
    if (broken) fail(broken);
  };
  const fail = (msg: string): never => { throw new CrashViolation(`seed ${seed}, after kill ${stats.kills}: ${msg}\nstate kept at ${state}\nserver output:\n${server?.output() ?? ''}`); };

  const doPropose = async (agent: string): Promise<string> => {
    const how = rand() < pushShare ? 'push' : 'plumbing';
    const head = await propose(m.repo(agent), agent, how);
    stats.proposals += 1;
    if (how === 'push') stats.pushes += 1;
    return head;
  };
  const pendingFor = async (agent: string, head: string, timeoutMs = convergeMs): Promise<Req> => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const r = await api<Req[]>('GET', `/api/approvals?agent=${agent}&status=pending`).catch(() => null);
      if (r?.status === 200) {
        m.sawPending(r.body);
        const hit = r.body.find((x) => x.head === head);
        if (hit) return hit;
      }
      if (Date.now() > end) return fail(`no pending request for ${agent} head ${short(head)} within ${timeoutMs} ms`);
      await sleep(50);
    }
  };
  const sendApprove = (req: Req): Promise<{ status: number; body: any }> => {
    m.approveSent.set(req.id, { agent: req.agent, head: req.head! });
    stats.approvalsSent += 1;
    const p = api('POST', `/api/approvals/${req.id}/approve`, {});
    track(p);
    void p.then((r) => { if (r.status === 200) stats.approvalsOk += 1; }, () => undefined);
    return p;
  };
  /** Every request seen pending just before a kill must survive it (or be superseded/approved). */
  const snapshot = (): void => {
    const p = api<Req[]>('GET', '/api/approvals?status=pending');
    track(p);
    void p.then((r) => { if (r.status === 200) m.sawPending(r.body); }, () => undefined);
  };

  const checkAll = async (): Promise<void> => {
    let observed;
    try { observed = await timed('convergeMs', () => waitConverged(api, m, convergeMs)); } catch (e) { return fail((e as Error).message); }
    const violations: string[] = [];
    const t = Date.now();
    for (const obs of observed) violations.push(...await checkAgent(api, m, obs));
    const sq = sqliteProblems(state);
    stats.phases.checkMs += Date.now() - t;
    if (sq) violations.push(sq);
    if (violations.length) fail(violations.join('\n'));
  };

  try {
    await start();
    for (const name of agents) {
      const r = await api('POST', '/api/agents', { name });
      if (r.status !== 201) fail(`creating ${name}: ${r.status} ${JSON.stringify(r.body)}`);
      m.roots.set(name, r.body.applied);
    }
    await checkAll();

    while (stats.kills < o.kills) {
      const stepsStart = Date.now();
      // 'startup' kills the restarted server again mid-recovery: the costliest part of recovery to get right, and the cheapest kill.
      const lastChance = stats.kills === o.kills - 1 && stats.approvalsSent === 0;
      const scenario = lastChance ? 'cycle' : pick(['propose', 'propose', 'approve', 'approve', 'cycle', 'cycle', 'supersede', 'startup', 'startup'] as const);
      const d = delay();
      switch (scenario) {
        case 'propose': {
          const targets = rand() < 0.5 ? [pick(agents)] : agents.filter(() => rand() < 0.6);
          for (const a of targets.length ? targets : [pick(agents)]) await doPropose(a);
          snapshot();
          await sleep(d);
          await kill(`${d} ms after proposing`);
          break;
        }
        case 'approve':
        case 'startup': {
          const agent = pick(agents);
          const head = await doPropose(agent);
          const req = await pendingFor(agent, head);
          snapshot();
          void sendApprove(req);
          await sleep(d);
          stats.approveKills += 1;
          await kill(`${d} ms after sending approve #${req.id}`);
          if (scenario === 'startup' && stats.kills < o.kills) {
            // Crash again while the new server completes the approval and kills stale agents.
            server = spawnCli(state, port, AGENT_ENV);
            stats.restarts += 1;
            await waitHealthy(server).catch((e) => fail((e as Error).message));
            const d2 = delay();
            await sleep(d2);
            stats.startupKills += 1;
            await kill(`${d2} ms after the restarted server answered health`);
          }
          break;
        }
        case 'cycle': {
          const targets = agents.filter(() => rand() < 0.6);
          if (!targets.length) targets.push(pick(agents));
          const approvals = await Promise.all(targets.map(async (a) => {
            const head = await doPropose(a);
            const req = await pendingFor(a, head);
            const r = await sendApprove(req);
            if (r.status !== 200) fail(`approve #${req.id} (${a}, nothing else moving) → ${r.status} ${JSON.stringify(r.body)}`);
            return req;
          }));
          snapshot();
          await sleep(d);
          stats.applyKills += 1;
          await kill(`${d} ms into applying ${approvals.map((r) => `#${r.id}`).join(', ')}`);
          break;
        }
        case 'supersede': {
          const agent = pick(agents);
          const h1 = await doPropose(agent);
          const first = rand() < 0.5 ? await pendingFor(agent, h1) : null;
          await doPropose(agent);
          // Approving the superseded one races the new push: either answer is fine, `applied` must only hold approved heads.
          if (first) void sendApprove(first);
          snapshot();
          await sleep(d);
          await kill(`${d} ms after superseding ${first ? `#${first.id}` : short(h1)}`);
          break;
        }
      }
      if (rand() < 0.25) {
        // The hook records a push while no controller runs; the next one must raise the request.
        await doPropose(pick(agents));
        stats.downProposals += 1;
      }
      stats.phases.stepsMs += Date.now() - stepsStart;
      await start();
      stats.restarts += 1;
      await checkAll();
    }

    const exit = await server!.term();
    server = null;
    if (exit.code !== 0) fail(`SIGTERM: the server exited with ${JSON.stringify(exit)}`);
    const end = Date.now() + 15_000;
    while (agentProcesses(state).length && Date.now() < end) await sleep(100);
    const left = killAgentProcesses(state);
    if (left.length) fail(`agent processes left after SIGTERM: ${JSON.stringify(left)}`);
    stats.elapsedMs = Date.now() - t0;
    if (!o.keep) fs.rmSync(state, { recursive: true, force: true });
    return stats;
  } finally {
    if (server) await (server as CliServer).kill9();
    if (fs.existsSync(state)) killAgentProcesses(state);
  }
}
