import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { serve, type Served, type ServeOptions } from '../../controller/serve.ts';

// Shared by the web e2e tests, the web API tests and the web bench: a real server on 127.0.0.1:0 with
// a temp state dir, and pushes made with the git CLI by path into the agent's bare repo.

export interface TestServer { served: Served; url: string; token: string; state: string; close(): Promise<void> }

export async function startServer(prefix = 'hh-web-', extra: Partial<ServeOptions> = {}): Promise<TestServer> {
  const state = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const served = await serve({ state, listen: '127.0.0.1:0', runtime: 'process', systemd: 'off', out: () => undefined, resyncMs: 2000, ...extra });
  const token = fs.readFileSync(path.join(state, 'operator.token'), 'utf8').trim();
  return {
    served, url: served.url, token, state,
    async close() {
      await served.close();
      fs.rmSync(state, { recursive: true, force: true });
    },
  };
}

const GIT_ID = ['-c', 'user.name=Dev Person', '-c', 'user.email=dev@example.invalid', '-c', 'commit.gpgsign=false'];

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', [...GIT_ID, ...args], { cwd, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Clones the agent's bare repo by path, applies `files` (null deletes) on `branch`, commits and pushes.
 * Returns the new commit's SHA.
 */
export function pushCommit(state: string, agent: string, files: Record<string, string | Buffer | null>, message: string, branch = 'proposed'): string {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'hh-push-'));
  try {
    git(work, 'clone', '-q', '--branch', branch, path.join(state, 'repos', `${agent}.git`), '.');
    for (const [rel, content] of Object.entries(files)) {
      const f = path.join(work, rel);
      if (content === null) { fs.rmSync(f, { force: true }); continue; }
      fs.mkdirSync(path.dirname(f), { recursive: true });
      fs.writeFileSync(f, content);
    }
    git(work, 'add', '-A');
    git(work, 'commit', '-q', '-m', message);
    git(work, 'push', '-q', 'origin', `HEAD:${branch}`);
    return git(work, 'rev-parse', 'HEAD').trim();
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

export function readRef(state: string, agent: string, branch: string): string {
  return git(path.join(state, 'repos', `${agent}.git`), 'rev-parse', `refs/heads/${branch}`).trim();
}

/** 50 new files of 100 lines each: a 5,000-line, 50-file change. */
export function largeChange(tag = 'big'): Record<string, string> {
  const files: Record<string, string> = {};
  for (let i = 0; i < 50; i++) {
    files[`${tag}/file-${String(i).padStart(2, '0')}.txt`] = Array.from({ length: 100 }, (_, j) => `${tag} file ${i} line ${j}`).join('\n') + '\n';
  }
  return files;
}

export async function waitFor<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 30_000): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (e) { last = e; }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** JSON API call with the operator's bearer token. */
export async function api<T = unknown>(s: TestServer, method: string, p: string, body?: unknown): Promise<{ status: number; body: T }> {
  const r = await fetch(`${s.url}${p}`, {
    method, headers: { authorization: `Bearer ${s.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  let parsed: unknown = text;
  try { parsed = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, body: parsed as T };
}

/** Logs in through the form like a browser; returns the cookie header and the session's CSRF token. */
export async function loginSession(s: TestServer): Promise<{ cookie: string; csrf: string }> {
  const r = await fetch(`${s.url}/login`, { method: 'POST', body: new URLSearchParams({ token: s.token }), redirect: 'manual' });
  const set = r.headers.get('set-cookie');
  if (r.status !== 303 || !set) throw new Error(`login failed: ${r.status}`);
  const cookie = set.split(';')[0]!;
  const page = await (await fetch(`${s.url}/`, { headers: { cookie } })).text();
  const csrf = /name="csrf-token" content="([^"]+)"/.exec(page)?.[1];
  if (!csrf) throw new Error('no csrf token on the dashboard');
  return { cookie, csrf };
}
