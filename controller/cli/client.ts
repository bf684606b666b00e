import fs from 'node:fs';
import path from 'node:path';
import { readTokenFile } from '../auth/tokens.ts';
import { statePaths } from '../paths.ts';

export class RefusedError extends Error {}

/** Talks to the running server with the operator token from the state dir. */
export class ApiClient {
  readonly url: string;
  private token: string;
  /** Where the URL came from, for the message when nothing answers there. */
  private readonly urlSource: string;
  private readonly root: string;
  constructor(state: string, urlFlag?: string) {
    const paths = statePaths(state);
    const token = readTokenFile(paths.operatorToken);
    if (!token) throw new RefusedError(`no operator token at ${paths.operatorToken}: is a hyperhive server using state dir ${paths.root}? Start one with \`hyperhive serve --state ${paths.root}\``);
    this.token = token;
    this.root = paths.root;
    let url = urlFlag ?? process.env.HYPERHIVE_SERVER_URL;
    let source = urlFlag ? '--url' : url ? 'HYPERHIVE_SERVER_URL' : '';
    if (!url) {
      try { url = JSON.parse(fs.readFileSync(path.join(paths.root, 'server.json'), 'utf8')).url; source = `${path.join(paths.root, 'server.json')}`; } catch { /* default below */ }
    }
    // A server writes server.json while it runs and removes it when it stops cleanly.
    this.urlSource = source || `the default: no ${path.join(paths.root, 'server.json')}, so no server is running on this state dir`;
    this.url = (url ?? 'http://127.0.0.1:8000').replace(/\/$/, '');
  }

  async request<T = unknown>(method: string, route: string, body?: unknown): Promise<T> {
    return (await this.requestWithHeaders<T>(method, route, body)).body;
  }

  /** The answer's body and headers (X-Total-Count of a paged listing). */
  async requestWithHeaders<T = unknown>(method: string, route: string, body?: unknown): Promise<{ body: T; headers: Headers }> {
    let res: Response;
    try {
      res = await fetch(`${this.url}${route}`, {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
    } catch (e) {
      const why = (e as Error & { cause?: Error }).cause?.message ?? (e as Error).message;
      throw new RefusedError(`no hyperhive server answers at ${this.url} (${why}; URL from ${this.urlSource}). Start one with \`hyperhive serve --state ${this.root}\`.`);
    }
    const text = await res.text();
    let json: unknown = text;
    try { json = text ? JSON.parse(text) : null; } catch { /* plain text (patch) */ }
    if (!res.ok) {
      const err = (json as { error?: { code: string; message: string } })?.error;
      throw new RefusedError(err ? `${err.message} (${err.code}, HTTP ${res.status})` : `HTTP ${res.status}: ${text.slice(0, 300)}`);
    }
    return { body: json as T, headers: res.headers };
  }
}
