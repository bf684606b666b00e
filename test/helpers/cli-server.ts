import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { CLI, PROJECT_ROOT } from './paths.ts';

// A real `hyperhive serve` process (for a controller in this process, see server.ts): started as a
// process group leader, SIGKILLed and restarted on the same state dir and port, its agents found in /proc.

export interface HttpResult<T = any> { status: number; body: T }

/**
 * One request on a fresh connection (no keep-alive pool): after a SIGKILL the next server listens on
 * the same port, and a pooled socket of the dead one would fail the first request after the restart.
 */
export function httpJson<T = any>(url: string, method: string, route: string, opts: { token?: string; body?: unknown; timeoutMs?: number } = {}): Promise<HttpResult<T>> {
  return new Promise((resolve, reject) => {
    const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    const req = http.request(`${url}${route}`, {
      method, agent: false,
      headers: {
        connection: 'close',
        ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
        ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
      },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try { body = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
        resolve({ status: res.statusCode ?? 0, body: body as T });
      });
    });
    req.setTimeout(opts.timeoutMs ?? 30_000, () => req.destroy(new Error(`${method} ${route}: no answer within ${opts.timeoutMs ?? 30_000} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** A port that was free a moment ago; the CLI server then binds it for the whole run. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export interface CliServer {
  pid: number;
  url: string;
  /** Resolves when the process is gone, with how it ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The last few KB of its stdout and stderr, for failure messages. */
  output(): string;
  /** SIGKILL to its whole process group (the server and the git processes it runs, not the agents: they have groups of their own). */
  kill9(): Promise<void>;
  /** SIGTERM (a clean stop) and the exit status. */
  term(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

// A detached server and its agents outlive this process if it dies (ava SIGTERMs a worker that timed
// out, an uncaught error exits it): whatever runs then is killed here, synchronously.
const liveServers = new Set<number>();
const usedStates = new Set<string>();
let reaperInstalled = false;
function reapAll(): void {
  for (const pid of liveServers) { try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ } }
  liveServers.clear();
  for (const state of usedStates) killAgentProcesses(state);
}
function installReaper(): void {
  if (reaperInstalled) return;
  reaperInstalled = true;
  process.once('exit', reapAll);
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    const onSignal = () => { reapAll(); process.removeListener(sig, onSignal); process.kill(process.pid, sig); };
    process.once(sig, onSignal);
  }
}

/** Starts the real CLI (`hyperhive serve`) as a process group leader; returns at once, before it is healthy. */
export function spawnCli(state: string, port: number, env: Record<string, string> = {}, o: { runtime?: 'process' | 'nspawn' } = {}): CliServer {
  installReaper();
  usedStates.add(path.resolve(state));
  const child: ChildProcess = spawn(process.execPath, [CLI, 'serve', '--state', state, '--listen', `127.0.0.1:${port}`, '--runtime', o.runtime ?? 'process', '--systemd', 'off'], {
    cwd: PROJECT_ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, HYPERHIVE_LOG_STDERR: '0', ...env },
  });
  let out = '';
  const keep = (c: Buffer) => { out = (out + c.toString('utf8')).slice(-4096); };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const pid = child.pid!;
  liveServers.add(pid);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => { liveServers.delete(pid); resolve({ code, signal }); });
  });
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    pid, url: `http://127.0.0.1:${port}`, exited,
    output: () => out,
    async kill9() {
      if (alive()) { try { process.kill(-pid, 'SIGKILL'); } catch { /* already gone */ } }
      await exited;
    },
    async term(timeoutMs = 30_000) {
      if (alive()) process.kill(pid, 'SIGTERM');
      const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
      const r = await Promise.race([exited, timer]);
      if (r === 'timeout') {
        try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ }
        await exited;
        throw new Error(`the server did not stop within ${timeoutMs} ms of SIGTERM; killed it`);
      }
      return r;
    },
  };
}

/** Waits until /api/health answers 200, failing early when the process died. */
export async function waitHealthy(s: CliServer, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  let dead: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  void s.exited.then((e) => { dead = e; });
  for (;;) {
    if (dead) throw new Error(`the server exited (${JSON.stringify(dead)}) before it was healthy:\n${s.output()}`);
    try {
      const r = await httpJson(s.url, 'GET', '/api/health', { timeoutMs: 5000 });
      if (r.status === 200) return;
    } catch { /* not listening yet */ }
    if (Date.now() > end) throw new Error(`the server was not healthy within ${timeoutMs} ms:\n${s.output()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface AgentProcess { pid: number; agent: string; stateDir: string }

/** Every live process whose environment names an agent of this state dir (read from /proc, as killStale does). */
export function agentProcesses(state: string): AgentProcess[] {
  const found: AgentProcess[] = [];
  const prefix = path.resolve(state) + path.sep;
  let pids: string[] = [];
  try { pids = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)); } catch { return found; }
  for (const p of pids) {
    let environ: string;
    try { environ = fs.readFileSync(`/proc/${p}/environ`, 'utf8'); } catch { continue; }
    if (!environ.includes('HYPERHIVE_AGENT=')) continue;
    const vars = new Map(environ.split('\0').filter(Boolean).map((kv) => { const i = kv.indexOf('='); return [kv.slice(0, i), kv.slice(i + 1)] as const; }));
    const stateDir = vars.get('HYPERHIVE_STATE_DIR') ?? '';
    if (!path.resolve(stateDir).startsWith(prefix)) continue;
    // A zombie keeps its /proc entry but no longer runs anything.
    try { if (/^State:\s+Z/m.test(fs.readFileSync(`/proc/${p}/status`, 'utf8'))) continue; } catch { continue; }
    found.push({ pid: Number(p), agent: vars.get('HYPERHIVE_AGENT')!, stateDir });
  }
  return found;
}

/** Kills what agentProcesses finds (cleanup after a failed run); returns what it killed. */
export function killAgentProcesses(state: string): AgentProcess[] {
  const procs = agentProcesses(state);
  for (const p of procs) { try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ } }
  return procs;
}
