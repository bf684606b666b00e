// A real git-over-HTTP server on 127.0.0.1 with real bare repos (createRepo, real hooks) and no
// controller behind it, for the git-http-*.test.ts files and the git-http bench.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { TokenRegistry, tokenFromAuthorization, type Identity } from '../../controller/auth/index.ts';
import { createGitHttpHandler, type GitHttpOptions } from '../../repos/http.ts';
import { createRepo } from '../../repos/store.ts';
import { mustGit, refEvents, type RefEvent } from './git.ts';
import { PROJECT_ROOT, tmpDir } from './paths.ts';

export interface GitHttp {
  dir: string;
  reposDir: string;
  eventsFile: string;
  url: string;
  tokens: Record<string, string>;
  repo(agent: string): string;
  /** http://127.0.0.1:port/git/<agent>.git with `who`'s token as the Basic password (tests only). */
  remote(agent: string, who?: string | null): string;
  /** What the repos' reference-transaction hooks recorded, in order. */
  events(): RefEvent[];
  close(): Promise<void>;
}

export interface StartGitHttpOptions {
  agents?: string[];
  handler?: Partial<GitHttpOptions>;
}

export async function startGitHttp(opts: StartGitHttpOptions = {}): Promise<GitHttp> {
  const dir = tmpDir('hh-git-http-');
  const reposDir = path.join(dir, 'repos');
  const eventsFile = path.join(dir, 'events', 'refs.jsonl');
  const agents = opts.agents ?? ['alice', 'bob', 'manager'];
  for (const agent of agents) {
    await createRepo(path.join(reposDir, `${agent}.git`), {
      agent, templatesDir: path.join(PROJECT_ROOT, 'templates'), eventsFile,
      author: { name: 'op', email: 'op@hyperhive.local' }, projectRoot: PROJECT_ROOT,
    });
  }
  const registry = new TokenRegistry();
  const tokens: Record<string, string> = {};
  const add = (key: string, id: Identity) => { tokens[key] = `tok-${key}-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`; registry.add(tokens[key]!, id); };
  add('operator', { kind: 'operator', name: 'op' });
  for (const a of agents) add(a, { kind: 'agent', name: a });
  add('carol', { kind: 'agent', name: 'carol' }); // an agent with a token but no repo

  const handler = createGitHttpHandler({
    reposDir,
    authenticate: (h) => registry.authenticate(tokenFromAuthorization(h)),
    agentExists: (n) => agents.includes(n),
    ...opts.handler,
  });
  const server = http.createServer((req, res) => {
    handler(req, res).then((handled) => {
      if (!handled) { res.statusCode = 404; res.end('not git\n'); }
    }, (e) => { res.statusCode = 500; res.end(String(e)); });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  return {
    dir, reposDir, eventsFile, url, tokens,
    repo: (a) => path.join(reposDir, `${a}.git`),
    remote: (agent, who = 'operator') => who === null ? `${url}/git/${agent}.git` : `http://x:${tokens[who]}@127.0.0.1:${port}/git/${agent}.git`,
    events: () => refEvents(eventsFile),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh clone of `agent`'s repo as `who`, with proposed checked out. */
export async function cloneAs(g: GitHttp, agent: string, who: string, name = `${agent}-${who}-${Math.random().toString(36).slice(2, 8)}`): Promise<string> {
  const dir = path.join(g.dir, 'work', name);
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  await mustGit(['clone', '-q', '--branch', 'proposed', g.remote(agent, who), dir]);
  return dir;
}
