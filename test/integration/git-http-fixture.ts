// A real git-over-HTTP server on 127.0.0.1 with real bare repos (createRepo, real hooks) for the
// git-http-*.test.ts files. Not a test file itself.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TokenRegistry, tokenFromAuthorization, type Identity } from '../../controller/auth/index.ts';
import { createGitHttpHandler, type GitHttpOptions } from '../../repos/http.ts';
import { createRepo } from '../../repos/store.ts';

export const PROJECT_ROOT = path.resolve(fileURLToPath(new URL('../../', import.meta.url)));

export interface Fixture {
  dir: string;
  reposDir: string;
  eventsFile: string;
  url: string;
  tokens: Record<string, string>;
  repo(agent: string): string;
  /** http://127.0.0.1:port/git/<agent>.git with `who`'s token as the Basic password (tests only). */
  remote(agent: string, who?: string | null): string;
  close(): Promise<void>;
}

export interface FixtureOptions {
  agents?: string[];
  handler?: Partial<GitHttpOptions>;
}

export async function startFixture(opts: FixtureOptions = {}): Promise<Fixture> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hh-git-http-'));
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
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Run { code: number; stdout: string; stderr: string }

const HOME = fs.mkdtempSync(path.join(os.tmpdir(), 'hh-git-home-'));

/** The real git CLI with no user or system config, never prompting. */
export function gitCli(args: string[], opts: { cwd?: string; env?: Record<string, string>; input?: string; identity?: boolean; home?: string } = {}): Promise<Run> {
  const who = opts.identity === false ? {} : {
    GIT_AUTHOR_NAME: 'tester', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 'tester', GIT_COMMITTER_EMAIL: 't@example.com',
  };
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, {
      cwd: opts.cwd ?? os.tmpdir(),
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: opts.home ?? HOME, LC_ALL: 'C',
        GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: '/bin/false',
        ...who,
        ...opts.env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    child.on('error', reject);
    child.stdin.on('error', () => {});
    child.on('close', (code) => resolve({ code: code ?? 128, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

export async function mustGit(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<string> {
  const r = await gitCli(args, opts);
  if (r.code !== 0) throw new Error(`git ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

export async function fsckClean(repo: string): Promise<{ ok: boolean; output: string }> {
  const r = await gitCli(['--git-dir', repo, 'fsck', '--full', '--strict', '--no-dangling'], {});
  return { ok: r.code === 0 && !/error|missing|corrupt/i.test(r.stdout + r.stderr), output: r.stdout + r.stderr };
}

export async function refs(repo: string): Promise<Record<string, string>> {
  const out = await mustGit(['--git-dir', repo, 'for-each-ref', '--format=%(refname) %(objectname)']);
  return Object.fromEntries(out.trim().split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string]));
}

/** A fresh clone of `agent`'s repo as `who`, with proposed checked out. */
export async function cloneAs(f: Fixture, agent: string, who: string, name = `${agent}-${who}-${Math.random().toString(36).slice(2, 8)}`): Promise<string> {
  const dir = path.join(f.dir, 'work', name);
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  await mustGit(['clone', '-q', '--branch', 'proposed', f.remote(agent, who), dir]);
  return dir;
}

export async function commitFile(dir: string, file: string, content: string | Buffer, message = `edit ${file}`): Promise<string> {
  fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
  fs.writeFileSync(path.join(dir, file), content);
  await mustGit(['add', '--', file], { cwd: dir });
  await mustGit(['commit', '-q', '-m', message], { cwd: dir });
  return (await mustGit(['rev-parse', 'HEAD'], { cwd: dir })).trim();
}

export function readEvents(f: Fixture): { agent: string; ref: string; old: string; new: string; pusher: string }[] {
  if (!fs.existsSync(f.eventsFile)) return [];
  return fs.readFileSync(f.eventsFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}
