import fs from 'node:fs';
import path from 'node:path';
import { serve, type Served, type ServeOptions } from '../../controller/serve.ts';
import { tmpDir } from './paths.ts';

// A real controller in this process with a real HTTP server on 127.0.0.1:0 (for a real `hyperhive
// serve` process, SIGKILLed and restarted, see cli-server.ts).

export interface TestServer extends Served {
  state: string;
  /** The operator's token. */
  token: string;
  /** JSON API call with the operator's bearer token (or `headers`' authorization); the body parsed when it is JSON. */
  api<T = any>(method: string, route: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: T }>;
  /** Stops the server; a state dir this helper made is removed unless keepState (a restart on it follows). The first call decides. */
  close(o?: { keepState?: boolean }): Promise<void>;
}

export type TestServerOptions = Partial<ServeOptions> & { /** Of the temp state dir made when `state` is not given. */ prefix?: string };

/**
 * Defaults for tests: the idle agent (no model calls), no Nix config check, no working clones, no log
 * on stderr, a 2 s resync. Pass `agentCommand: undefined` for the real harness, `configCheck: true` for verdicts.
 */
export async function startServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const { prefix, ...serveOpts } = opts;
  const owned = opts.state === undefined;
  const state = opts.state ?? tmpDir(prefix ?? 'hh-state-');
  const s = await serve({ state, listen: '127.0.0.1:0', runtime: 'process', systemd: 'off', resyncMs: 2000, out: () => {}, logToStderr: false, agentCommand: 'idle', configCheck: false, agentClone: false, ...serveOpts });
  const token = operatorToken(state);
  let closing: Promise<void> | null = null;
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
    close(o = {}) {
      closing ??= (async () => {
        await s.close();
        if (owned && !o.keepState) fs.rmSync(state, { recursive: true, force: true });
      })();
      return closing;
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

/** A fresh server with one active agent; servers started here are closed by `closeAll`. */
export function serverPool(): { fresh(name?: string): Promise<{ s: TestServer; repo: string }>; track(s: TestServer): TestServer; closeAll(): Promise<void> } {
  const servers: TestServer[] = [];
  return {
    async fresh(name = 'worker') {
      const s = await startServer();
      servers.push(s);
      await createAgents(s, [name]);
      return { s, repo: path.join(s.state, 'repos', `${name}.git`) };
    },
    track(s) { servers.push(s); return s; },
    async closeAll() { await Promise.all(servers.map((s) => s.close())); },
  };
}

export const agentToken = (state: string, name: string): string => fs.readFileSync(path.join(state, 'agents', name, 'token'), 'utf8').trim();
export const operatorToken = (state: string): string => fs.readFileSync(path.join(state, 'operator.token'), 'utf8').trim();

/** Logs in through the form like a browser; returns the cookie header and the session's CSRF token. */
export async function loginSession(s: { url: string; token: string }): Promise<{ cookie: string; csrf: string }> {
  const r = await fetch(`${s.url}/login`, { method: 'POST', body: new URLSearchParams({ token: s.token }), redirect: 'manual' });
  const set = r.headers.get('set-cookie');
  if (r.status !== 303 || !set) throw new Error(`login failed: ${r.status}`);
  const cookie = set.split(';')[0]!;
  const page = await (await fetch(`${s.url}/`, { headers: { cookie } })).text();
  const csrf = /name="csrf-token" content="([^"]+)"/.exec(page)?.[1];
  if (!csrf) throw new Error('no csrf token on the dashboard');
  return { cookie, csrf };
}
