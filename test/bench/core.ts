// The core loop's latencies against the real CLI server (`hyperhive serve`, a child process):
// P1 `git push` by path → the request visible in GET /api/approvals (push included), P2 approve →
// the process running the new revision (GET /api/agents/:name), and P1 again with 200 agents.
// Run alone: `node --import tsx test/bench/core.ts [--runs N] [--agents N]`; `npm run bench` runs it with
// the others (HH_BENCH_RUNS, HH_BENCH_AGENTS shorten it).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { gitc } from '../helpers/git.ts';
import { tmpDir, PROJECT_ROOT } from '../helpers/paths.ts';
import { installHooks } from '../../repos/store.ts';
import { freePort, spawnCli, waitHealthy, killAgentProcesses, type CliServer } from '../helpers/cli-server.ts';

export type Report = (name: string, value: number, unit: string, note?: string) => void;

export interface BenchCoreOptions {
  /** Samples per figure (after a few warm-up rounds). */
  runs?: number;
  /** Agents present for the "many agents" P1. */
  manyAgents?: number;
  log?: (line: string) => void;
}

const P1_GOAL_MS = 100;
const P2_GOAL_MS = 300;
const WARMUP = 3;
// Between GETs the bench waits for the server's next SSE event (what the web UI listens to), at most
// this long: polling every few ms would itself load the 2-core machine the server runs on.
const POLL_MS = 25;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function quantiles(xs: number[]): { median: number; p95: number; min: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
  const mid = Math.floor(s.length / 2);
  return { median: s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2, p95: q(0.95), min: s[0]!, max: s[s.length - 1]! };
}

const GIT_ENV = { ...process.env, GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'b@example.com', GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'b@example.com', GIT_CONFIG_NOSYSTEM: '1' };
const gitAsync = (cwd: string, args: string[]): Promise<void> => new Promise((resolve, reject) => {
  execFile('git', args, { cwd, env: GIT_ENV }, (err, _out, stderr) => (err ? reject(new Error(`git ${args.join(' ')}: ${stderr || err.message}`)) : resolve()));
});

/** A running CLI server with a keep-alive client (no kills here, so pooled connections are fine). */
export class Bench {
  token = '';
  constructor(readonly s: CliServer, readonly state: string) {}

  /** `idle` is the built-in idle agent (logs its revision, stays up); the default harness would call a model. */
  static async start(agentCommand = 'idle'): Promise<Bench> {
    const state = tmpDir('hh-bench-core-');
    const s = spawnCli(state, await freePort(), { HYPERHIVE_AGENT_COMMAND: agentCommand });
    await waitHealthy(s);
    const b = new Bench(s, state);
    const file = path.join(state, 'operator.token');
    for (let i = 0; i < 500 && !fs.existsSync(file); i++) await sleep(20);
    b.token = fs.readFileSync(file, 'utf8').trim();
    await b.follow();
    return b;
  }

  private sse: AbortController | null = null;
  private wakers: (() => void)[] = [];

  /** Follows GET /api/events; every event wakes whoever waits in next(). */
  async follow(): Promise<void> {
    this.sse = new AbortController();
    const res = await fetch(`${this.s.url}/api/events`, { headers: { authorization: `Bearer ${this.token}` }, signal: this.sse.signal });
    if (!res.ok || !res.body) throw new Error(`GET /api/events: ${res.status}`);
    void (async () => {
      const dec = new TextDecoder();
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          if (dec.decode(chunk, { stream: true }).includes('data:')) { const w = this.wakers; this.wakers = []; w.forEach((f) => f()); }
        }
      } catch { /* aborted at close */ }
    })();
  }

  /** Resolves at the server's next event, or after POLL_MS. */
  next(): Promise<void> {
    return new Promise((r) => { const t = setTimeout(r, POLL_MS); this.wakers.push(() => { clearTimeout(t); r(); }); });
  }

  async api<T = any>(method: string, route: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(`${this.s.url}${route}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  }

  async createAgent(name: string): Promise<void> {
    const r = await this.api('POST', '/api/agents', { name });
    if (r.status !== 201) throw new Error(`create ${name}: ${r.status} ${JSON.stringify(r.body)}`);
  }

  repo(name: string): string { return path.join(this.state, 'repos', `${name}.git`); }

  async waitRunning(name: string, timeoutMs = 120_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const a = (await this.api('GET', `/api/agents/${name}`)).body;
      if (a?.runtime?.state === 'running' && a.runtime.revision === a.applied) return;
      if (Date.now() > end) throw new Error(`${name} not running within ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  async close(): Promise<void> {
    this.sse?.abort();
    await this.s.term(60_000).catch(() => this.s.kill9());
    killAgentProcesses(this.state);
    fs.rmSync(this.state, { recursive: true, force: true });
  }
}

/** A working clone per agent: the commit is made before the clock starts, the push is timed. */
export class Pusher {
  private dirs = new Map<string, string>();
  private n = 0;
  constructor(private b: Bench) {}

  private clone(agent: string): string {
    let d = this.dirs.get(agent);
    if (!d) { d = tmpDir('hh-bench-clone-'); gitc(d, 'clone', '-q', '-b', 'proposed', this.b.repo(agent), '.'); this.dirs.set(agent, d); }
    return d;
  }

  /** Commits a change on top of what the clone has (nothing else moves proposed here); returns the sha. */
  commit(agent: string): string {
    const d = this.clone(agent);
    this.n += 1;
    fs.writeFileSync(path.join(d, 'bench.txt'), `change ${this.n} ${Date.now()}\n`);
    gitc(d, 'add', 'bench.txt');
    gitc(d, 'commit', '-q', '-m', `bench change ${this.n}`);
    return gitc(d, 'rev-parse', 'HEAD');
  }

  push(agent: string): Promise<void> { return gitAsync(this.clone(agent), ['push', '-q', 'origin', 'HEAD:proposed']); }

  cleanup(): void { for (const d of this.dirs.values()) fs.rmSync(d, { recursive: true, force: true }); }
}

interface P1Sample { visibleMs: number; pushMs: number; id: number; refMovedMs: number | null; rowMs: number | null; observeMs: number | null; diffMs: number | null; raiseMs: number | null }

/** When the reference-transaction hook saw `proposed` move to `head` (its own clock: Date.now() in ms). */
function hookTs(b: Bench, agent: string, head: string): number | null {
  let text = '';
  try { text = fs.readFileSync(path.join(b.state, 'events', 'refs.jsonl'), 'utf8'); } catch { return null; }
  for (const line of text.split('\n').reverse()) {
    if (!line.includes(head)) continue;
    try { const e = JSON.parse(line); if (e.agent === agent && e.ref === 'refs/heads/proposed' && e.new === head) return Number(e.ts); } catch { /* torn */ }
  }
  return null;
}

/**
 * The floor under P1's push: the same kind of commit pushed by path into a bare repo without any
 * hook, or with only hyperhive's reference-transaction hook (the one hook the core issue requires:
 * it runs twice per push, so two shell starts).
 */
async function plainPushSeries(runs: number, hooks: 'none' | 'reference-transaction' = 'none'): Promise<number[]> {
  const dir = tmpDir('hh-bench-plain-');
  try {
    const bare = path.join(dir, 'plain.git');
    const work = path.join(dir, 'work');
    gitc(dir, 'init', '-q', '--bare', bare);
    // Like hyperhive's repos: no `git gc --auto` inside the push.
    gitc(bare, 'config', 'receive.autogc', 'false');
    if (hooks === 'reference-transaction') {
      await installHooks(bare, { agent: 'plain', eventsFile: path.join(dir, 'events', 'refs.jsonl'), projectRoot: PROJECT_ROOT });
      for (const h of fs.readdirSync(path.join(bare, 'hooks'))) if (h !== 'reference-transaction') fs.rmSync(path.join(bare, 'hooks', h));
    }
    gitc(dir, 'init', '-q', work);
    fs.writeFileSync(path.join(work, 'prompt.md'), 'base\n');
    gitc(work, 'add', '-A'); gitc(work, 'commit', '-q', '-m', 'base');
    gitc(work, 'push', '-q', bare, 'HEAD:refs/heads/proposed');
    const out: number[] = [];
    for (let i = 0; i < runs + WARMUP; i++) {
      fs.writeFileSync(path.join(work, 'bench.txt'), `change ${i} ${Date.now()}\n`);
      gitc(work, 'add', 'bench.txt'); gitc(work, 'commit', '-q', '-m', `change ${i}`);
      const t0 = performance.now();
      await gitAsync(work, ['push', '-q', bare, 'HEAD:refs/heads/proposed']);
      if (i >= WARMUP) out.push(performance.now() - t0);
    }
    return out;
  } finally { fs.rmSync(dir, { recursive: true, force: true }); }
}

/** P1: clock starts right before `git push`; polls GET /api/approvals while the push runs. */
async function p1Once(b: Bench, p: Pusher, agent: string): Promise<P1Sample> {
  const head = p.commit(agent);
  const wall0 = Date.now();
  const t0 = performance.now();
  let pushMs = -1;
  const pushed = p.push(agent).then(() => { pushMs = performance.now() - t0; });
  let id = 0; let createdAt = 0;
  for (;;) {
    const r = await b.api<{ id: number; head: string; createdAt: number }[]>('GET', `/api/approvals?status=pending&agent=${agent}`);
    const hit = r.status === 200 ? r.body.find((x) => x.head === head) : undefined;
    if (hit) { id = hit.id; createdAt = hit.createdAt; break; }
    if (performance.now() - t0 > 120_000) throw new Error(`P1: no request for ${head} after 120 s`);
    await b.next();
  }
  const visibleMs = performance.now() - t0;
  await pushed;
  const moved = hookTs(b, agent, head);
  // The pass's own split (observe: refs, trees, ancestry, sqlite; diff: the one git process), from the log.
  const raised = (await b.api<{ event: string; data: { approval?: number; observeMs?: number; diffMs?: number; raiseMs?: number } }[]>('GET', `/api/log?agent=${agent}&since=${wall0}`)).body
    .find((e) => e.event === 'request-raised' && e.data?.approval === id);
  return {
    visibleMs, pushMs, id, refMovedMs: moved === null ? null : moved - wall0, rowMs: moved === null ? null : createdAt - moved,
    observeMs: raised?.data.observeMs ?? null, diffMs: raised?.data.diffMs ?? null, raiseMs: raised?.data.raiseMs ?? null,
  };
}

export async function p1Series(b: Bench, p: Pusher, agents: string[], runs: number): Promise<P1Sample[]> {
  const out: P1Sample[] = [];
  for (let i = 0; i < runs + WARMUP; i++) {
    const s = await p1Once(b, p, agents[i % agents.length]!);
    if (i >= WARMUP) out.push(s);
    await sleep(20);
  }
  return out;
}

/** P2: a pending request is approved with the clock running; done when the agent reports the new revision running. */
interface P2Parts { decided: number; applyStarted: number; processStarted: number }

/** Where an approval's time went, from the reconciliation log's own timestamps (ms after the POST). */
async function p2Parts(b: Bench, agent: string, wall0: number): Promise<P2Parts | null> {
  const log = (await b.api<{ ts: number; event: string }[]>('GET', `/api/log?agent=${agent}&since=${wall0}`)).body;
  const at = (ev: string) => log.find((e) => e.event === ev)?.ts;
  const decided = at('approved'); const started = at('apply-started'); const proc = at('runtime-started');
  if (decided === undefined || started === undefined || proc === undefined) return null;
  return { decided: decided - wall0, applyStarted: started - wall0, processStarted: proc - wall0 };
}

/**
 * `settled`: approve once the request carries its config verdict, as an operator who read the diff
 * would; otherwise approve the moment the request is visible, and the approval waits for the rest
 * of the Nix evaluation.
 */
async function p2Series(b: Bench, p: Pusher, agents: string[], runs: number, settled: boolean): Promise<{ apiMs: number[]; logMs: number[]; parts: P2Parts[] }> {
  const apiMs: number[] = []; const logMs: number[] = []; const parts: P2Parts[] = [];
  for (let i = 0; i < runs + WARMUP; i++) {
    const agent = agents[i % agents.length]!;
    await b.waitRunning(agent);
    const { id } = await p1Once(b, p, agent);
    let head = (await b.api('GET', `/api/approvals/${id}`)).body.head as string;
    for (let w = 0; settled && w < 400; w++) {
      const d = (await b.api('GET', `/api/approvals/${id}`)).body;
      head = d.head;
      if (d.data?.configCheck) break;
      await b.next();
    }
    const logFile = path.join(b.state, 'agents', agent, 'runtime.log');
    const logStart = fs.existsSync(logFile) ? fs.statSync(logFile).size : 0;
    const wall0 = Date.now();
    const t0 = performance.now();
    const res = await b.api('POST', `/api/approvals/${id}/approve`, {});
    if (res.status !== 200) throw new Error(`P2: approve #${id} → ${res.status} ${JSON.stringify(res.body)}`);
    for (;;) {
      const a = (await b.api('GET', `/api/agents/${agent}`)).body;
      if (a.runtime.revision === head && a.runtime.state === 'running') break;
      if (performance.now() - t0 > 120_000) throw new Error(`P2: ${agent} not running ${head} after 120 s`);
      await b.next();
    }
    const api = performance.now() - t0;
    // The idle agent logs its revision once node has started it: the process really runs the new config.
    for (;;) {
      const fd = fs.openSync(logFile, 'r');
      const size = fs.fstatSync(fd).size;
      const buf = Buffer.alloc(Math.max(0, size - logStart));
      fs.readSync(fd, buf, 0, buf.length, logStart);
      fs.closeSync(fd);
      if (buf.toString('utf8').includes(`"revision":"${head}"`)) break;
      if (performance.now() - t0 > 120_000) throw new Error(`P2: ${agent} never logged ${head}`);
      await sleep(5);
    }
    const logged = performance.now() - t0;
    if (i >= WARMUP) {
      apiMs.push(api); logMs.push(logged);
      const pp = await p2Parts(b, agent, wall0);
      if (pp) parts.push(pp);
    }
  }
  return { apiMs, logMs, parts };
}

const fmt = (x: number) => x.toFixed(1);

export async function benchCore(report: Report, o: BenchCoreOptions = {}): Promise<void> {
  // HH_BENCH_RUNS / HH_BENCH_AGENTS shorten a trial run of `npm run bench`.
  const runs = o.runs ?? (Number(process.env.HH_BENCH_RUNS) || 30);
  const many = o.manyAgents ?? (Number(process.env.HH_BENCH_AGENTS) || 200);
  const log = o.log ?? ((l: string) => process.stderr.write(`  core: ${l}\n`));
  const agents = ['alpha', 'beta', 'gamma'];

  // P1 and P2 on a server whose agents run the built-in idle agent (a node process that logs its revision).
  let b = await Bench.start();
  let p = new Pusher(b);
  let baseline: ReturnType<typeof quantiles>;
  try {
    for (const a of agents) await b.createAgent(a);
    for (const a of agents) await b.waitRunning(a);
    log(`P1: ${runs} pushes over ${agents.length} agents`);
    const s1 = await p1Series(b, p, agents, runs);
    const q1 = quantiles(s1.map((s) => s.visibleMs));
    const qp = quantiles(s1.map((s) => s.pushMs));
    baseline = q1;
    report('P1 push → request visible, median', q1.median, 'ms', `${agents.length} agents, ${runs} runs; min ${fmt(q1.min)}, max ${fmt(q1.max)}`);
    report('P1 push → request visible, p95', q1.p95, 'ms', `goal ≤ ${P1_GOAL_MS} ms: ${(q1.p95 / P1_GOAL_MS).toFixed(2)}× the goal`);
    report('P1 part: git push alone, median', qp.median, 'ms', `p95 ${fmt(qp.p95)} ms; the push returns after the pre-receive/post-receive hooks ran`);
    const plain = quantiles(await plainPushSeries(runs));
    report('P1 floor: git push to a hookless bare repo, median', plain.median, 'ms', `p95 ${fmt(plain.p95)} ms; hyperhive's push is ${(qp.median / plain.median).toFixed(1)}× this (its hooks)`);
    const required = quantiles(await plainPushSeries(runs, 'reference-transaction'));
    report('P1 floor: git push with only the reference-transaction hook, median', required.median, 'ms', `p95 ${fmt(required.p95)} ms (goal for the whole of P1: p95 ≤ ${P1_GOAL_MS}); the hook the issue requires, before any check or controller work`);
    const moved = s1.filter((s) => s.refMovedMs !== null);
    if (moved.length) {
      report('P1 part: push start → ref moved (hook), median', quantiles(moved.map((s) => s.refMovedMs!)).median, 'ms', 'the reference-transaction hook\'s timestamp: git and the pre-receive hook');
      report('P1 part: ref moved → request row, median', quantiles(moved.map((s) => s.rowMs!)).median, 'ms', 'the controller: event, reconcile pass, diff, insert');
    }
    const split = s1.filter((s) => s.observeMs !== null && s.diffMs !== null);
    if (split.length) {
      report('P1 part: pass observe (refs, trees, ancestry), median', quantiles(split.map((s) => s.observeMs!)).median, 'ms', 'in-process reads of loose objects');
      report('P1 part: pass diff (one git diff-tree), median', quantiles(split.map((s) => s.diffMs!)).median, 'ms', 'paths, line counts and patch from one git process');
      const both = split.filter((s) => s.raiseMs !== null);
      if (both.length) report('P1 part: pass diff and the hook\'s line both in hand, median', quantiles(both.map((s) => s.raiseMs!)).median, 'ms', 'the diff runs while the pass waits for who pushed');
    }

    log(`P2: ${runs} approvals of requests whose config check finished`);
    const s2 = await p2Series(b, p, agents, runs, true);
    const q2 = quantiles(s2.apiMs);
    const q2l = quantiles(s2.logMs);
    report('P2 approve → running new revision, median', q2.median, 'ms', `runtime.revision in GET /api/agents/:name; min ${fmt(q2.min)}, max ${fmt(q2.max)}`);
    report('P2 approve → running new revision, p95', q2.p95, 'ms', `goal ≤ ${P2_GOAL_MS} ms: ${(q2.p95 / P2_GOAL_MS).toFixed(2)}× the goal`);
    report('P2b approve → agent logged new revision, median', q2l.median, 'ms', `p95 ${fmt(q2l.p95)} ms; includes the agent's own node startup`);
    if (s2.parts.length) {
      const med = (f: (x: P2Parts) => number) => quantiles(s2.parts.map(f)).median;
      report('P2 part: approve → decision recorded, median', med((x) => x.decided), 'ms', 'config check (cached from raise), sqlite, CAS of applied (update-ref and its hook)');
      report('P2 part: decision → apply started, median', med((x) => x.applyStarted - x.decided), 'ms', 'the next reconcile pass');
      report('P2 part: apply started → process started, median', med((x) => x.processStarted - x.applyStarted), 'ms', 'stop the old process, check out, spawn');
    }
    log(`P2: ${runs} approvals the moment the request is visible`);
    const s2i = await p2Series(b, p, agents, runs, false);
    const q2i = quantiles(s2i.apiMs);
    report('P2 approved at once → running, median', q2i.median, 'ms', `p95 ${fmt(q2i.p95)} ms; the approval waits for the config check (Nix) still running from the raise`);
  } finally {
    p.cleanup();
    await b.close();
  }

  // P1 with many agents. Their command is `sleep` (no node process each: 200 of those would take GBs
  // of RAM); P1 does not involve the agent process, only the controller's work for 200 agents.
  b = await Bench.start('sleep 100000000');
  p = new Pusher(b);
  try {
    const t0 = performance.now();
    const names = Array.from({ length: many }, (_, i) => `agent-${String(i).padStart(3, '0')}`);
    let next = 0; let done = 0;
    await Promise.all(Array.from({ length: 4 }, async () => {
      while (next < names.length) {
        const n = names[next++]!;
        await b.createAgent(n);
        if (++done % 50 === 0) log(`created ${done}/${many} agents`);
      }
    }));
    const createMs = performance.now() - t0;
    report(`create ${many} agents through the API`, createMs / many, 'ms/agent', `${(createMs / 1000).toFixed(1)} s in all, 4 at a time`);
    const sample = [names[0]!, names[Math.floor(many / 2)]!, names[many - 1]!];
    for (const a of sample) await b.waitRunning(a);
    log(`P1 with ${many} agents: ${runs} pushes`);
    const s3 = await p1Series(b, p, sample, runs);
    const q3 = quantiles(s3.map((s) => s.visibleMs));
    const slow = s3.filter((s) => s.visibleMs > 2 * q3.median).length;
    report(`P1 with ${many} agents, median`, q3.median, 'ms', `${(q3.median / baseline.median).toFixed(2)}× P1 with ${agents.length} agents; min ${fmt(q3.min)}, max ${fmt(q3.max)}, ${slow} of ${s3.length} over twice the median`);
    report(`P1 with ${many} agents, p95`, q3.p95, 'ms', `${(q3.p95 / baseline.p95).toFixed(2)}× P1 p95 with ${agents.length}; goal ≤ ${P1_GOAL_MS} ms: ${(q3.p95 / P1_GOAL_MS).toFixed(2)}×`);
  } finally {
    p.cleanup();
    await b.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const arg = (n: string) => { const i = process.argv.indexOf(`--${n}`); return i < 0 ? undefined : Number(process.argv[i + 1]); };
  await benchCore((name, value, unit, note) => console.log(`${name.padEnd(50)} ${value.toFixed(2).padStart(10)} ${unit.padEnd(9)} ${note ?? ''}`), { runs: arg('runs'), manyAgents: arg('agents') });
}
