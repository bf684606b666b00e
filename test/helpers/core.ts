import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { serve, type Served, type ServeOptions } from '../../controller/serve.ts';

export const tmpDir = (prefix = 'hh-'): string => fs.mkdtempSync(path.join(os.tmpdir(), prefix));

export interface TestServer extends Served {
  state: string;
  token: string;
  api<T = any>(method: string, route: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: T }>;
}

/** A real controller with a real HTTP server on 127.0.0.1:0 and a temp state dir. */
export async function startServer(opts: Partial<ServeOptions> = {}): Promise<TestServer> {
  const state = opts.state ?? tmpDir('hh-state-');
  const s = await serve({ state, listen: '127.0.0.1:0', runtime: 'process', systemd: 'off', resyncMs: 2000, out: () => {}, logToStderr: false, agentCommand: 'idle', configCheck: false, agentClone: false, ...opts });
  const token = fs.readFileSync(path.join(state, 'operator.token'), 'utf8').trim();
  return {
    ...s, state, token,
    async api(method, route, body, headers = {}) {
      const res = await fetch(`${s.url}${route}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try { parsed = text ? JSON.parse(text) : null; } catch { /* text */ }
      return { status: res.status, body: parsed as never };
    },
  };
}

/** Creates agents through the API, one after another; any status but 201 fails with the answer. */
export async function createAgents(s: TestServer, names: string[]): Promise<void> {
  for (const n of names) {
    const r = await s.api('POST', '/api/agents', { name: n });
    if (r.status !== 201) throw new Error(`create ${n}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
  }
}

const GIT_ENV = { ...process.env, GIT_AUTHOR_NAME: 'tester', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 'tester', GIT_COMMITTER_EMAIL: 't@example.com', GIT_CONFIG_NOSYSTEM: '1' };
export const gitc = (cwd: string, ...args: string[]): string => execFileSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf8', maxBuffer: 1 << 28 }).trim();

/**
 * Commits `files` (null deletes) on top of `branch` of the bare repo and pushes it back by path,
 * the way an operator on the controller host would. Returns the new commit.
 */
export function pushByPath(repo: string, files: Record<string, string | Buffer | null>, opts: { branch?: string; message?: string; force?: boolean; orphan?: boolean } = {}): string {
  const branch = opts.branch ?? 'proposed';
  const dir = tmpDir('hh-clone-');
  try {
    gitc(dir, 'clone', '-q', '-b', branch, repo, '.');
    if (opts.orphan) { gitc(dir, 'checkout', '-q', '--orphan', 'tmp'); gitc(dir, 'rm', '-rq', '--cached', '.'); }
    for (const [f, content] of Object.entries(files)) {
      const p = path.join(dir, f);
      if (content === null) fs.rmSync(p, { force: true });
      else { fs.mkdirSync(path.dirname(p), { recursive: true }); fs.writeFileSync(p, content); }
    }
    gitc(dir, 'add', '-A');
    gitc(dir, 'commit', '-q', '--allow-empty', '-m', opts.message ?? 'test change');
    gitc(dir, 'push', '-q', ...(opts.force ? ['-f'] : []), 'origin', `HEAD:${branch}`);
    return gitc(dir, 'rev-parse', 'HEAD');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export const refOf = (repo: string, branch: string): string | null => {
  try { return execFileSync('git', ['--git-dir', repo, 'rev-parse', '--verify', '-q', `refs/heads/${branch}`], { encoding: 'utf8' }).trim(); } catch { return null; }
};

export async function waitFor<T>(fn: () => Promise<T | null | undefined | false | 0 | ""> | T | null | undefined | false | 0 | "", what: string, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try { const v = await fn(); if (v) return v as T; } catch (e) { last = e; }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A fresh server with one active agent; servers started here are closed by `closeAll`. */
export function serverPool(): { fresh(name?: string): Promise<{ s: TestServer; repo: string }>; track(s: TestServer): TestServer; closeAll(): Promise<void> } {
  const servers: TestServer[] = [];
  return {
    async fresh(name = 'worker') {
      const s = await startServer();
      servers.push(s);
      const r = await s.api('POST', '/api/agents', { name });
      if (r.status !== 201) throw new Error(`create failed: ${JSON.stringify(r.body)}`);
      return { s, repo: path.join(s.state, 'repos', `${name}.git`) };
    },
    track(s) { servers.push(s); return s; },
    async closeAll() { await Promise.all(servers.map((s) => s.close())); },
  };
}
