// Smart HTTP at /git/<agent>.git, served by the real `git http-backend` (CGI, one process per
// request) so every git client and protocol version works; this file only authenticates,
// confines, limits and relays.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { canAccessRepo, type Identity } from '../controller/auth/index.ts';
import { EVAL_ENV_VARS } from '../controller/harness/eval-limits.ts';
import { RESERVED_NAMES } from '../controller/names.ts';
import { gitEnv } from './git.ts';
import { identityFor } from './identity.ts';

export interface GitHttpOptions {
  reposDir: string;
  authenticate: (authorizationHeader: string | undefined) => Identity | null;
  agentExists: (name: string) => boolean;
  /** Extra environment for the hooks (HYPERHIVE_URL, HYPERHIVE_HOOK_TOKEN, HYPERHIVE_MAX_FILE_BYTES…). */
  hookEnv?: (id: Identity) => Record<string, string>;
  /** Largest request body accepted, in bytes; default 50 MB. */
  maxPushBytes?: number;
  /** Path of git-http-backend; default `git --exec-path`/git-http-backend. */
  gitHttpBackend?: string;
  /** Where to say what went wrong inside (backend errors); never given a token. */
  log?: (message: string) => void;
}

export type GitHttpHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

export const DEFAULT_MAX_PUSH_BYTES = 50 * 1024 * 1024;

// Objects and packs are listed for dumb-protocol clients; nothing else under the repo is reachable.
const GIT_PATH = new RegExp(
  '^/git/([a-z][a-z0-9-]{0,31})\\.git(/(?:info/refs|git-upload-pack|git-receive-pack|HEAD'
  + '|objects/info/(?:packs|alternates|http-alternates)'
  + '|objects/[0-9a-f]{2}/[0-9a-f]{38,62}'
  + '|objects/pack/pack-[0-9a-f]{40,64}\\.(?:pack|idx)))$',
);
const SERVICES = ['git-upload-pack', 'git-receive-pack'] as const;
type Service = typeof SERVICES[number];

export type GitRoute =
  | { ok: true; agent: string; pathInfo: string; service: Service | null; rpc: boolean }
  | { ok: false; status: number; message: string };

/**
 * Decides from the raw URL alone, before anything touches disk: `null` when the URL is not under
 * /git/, a route when it is exactly one of the paths git-http-backend serves, else an error. The
 * raw (undecoded) path is matched, so `..`, `%2e%2e` or `%2f` can never pass.
 */
export function parseGitRoute(rawUrl: string, method: string): GitRoute | null {
  const q = rawUrl.indexOf('?');
  const p = q >= 0 ? rawUrl.slice(0, q) : rawUrl;
  if (p !== '/git' && !p.startsWith('/git/')) return null;
  const m = GIT_PATH.exec(p);
  if (!m) return { ok: false, status: 404, message: 'not found: git repositories are served at /git/<agent>.git' };
  const agent = m[1]!;
  const sub = m[2]!;
  if ((RESERVED_NAMES as readonly string[]).includes(agent)) return { ok: false, status: 404, message: `no agent named ${agent}` };
  const params = new URLSearchParams(q >= 0 ? rawUrl.slice(q + 1) : '');
  let service: Service | null = null;
  const rpc = sub === '/git-upload-pack' || sub === '/git-receive-pack';
  if (rpc) {
    if (method !== 'POST') return { ok: false, status: 405, message: `${sub.slice(1)} takes POST` };
    service = sub.slice(1) as Service;
  } else {
    if (method !== 'GET' && method !== 'HEAD') return { ok: false, status: 405, message: `${sub.slice(1)} takes GET` };
    if (sub === '/info/refs') {
      const s = params.get('service');
      if (s !== null) {
        if (!(SERVICES as readonly string[]).includes(s)) return { ok: false, status: 400, message: `unknown git service ${JSON.stringify(s)}` };
        service = s as Service;
      }
    }
  }
  return { ok: true, agent, pathInfo: `/${agent}.git${sub}`, service, rpc };
}

let defaultBackend: string | null = null;
function backendPath(): string {
  if (!defaultBackend) {
    const exec = execFileSync('git', ['--exec-path'], { encoding: 'utf8' }).trim();
    defaultBackend = path.join(exec, 'git-http-backend');
  }
  return defaultBackend;
}

function sendText(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) { res.destroy(); return; }
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache', ...headers });
  res.end(`${message}\n`);
}

// ---- pkt-line: enough to refuse a push in git's own protocol, so git prints the reason ----

const pkt = (payload: Buffer | string): Buffer => {
  const b = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  return Buffer.concat([Buffer.from((b.length + 4).toString(16).padStart(4, '0'), 'ascii'), b]);
};
const FLUSH = Buffer.from('0000', 'ascii');

interface PushCommands { refs: string[]; caps: Set<string> }

/** The command list at the start of a receive-pack request (before the pack), if complete in `head`. */
export function parsePushCommands(head: Buffer): PushCommands | null {
  const refs: string[] = [];
  let caps = new Set<string>();
  let off = 0;
  while (off + 4 <= head.length) {
    const len = parseInt(head.subarray(off, off + 4).toString('ascii'), 16);
    if (!Number.isFinite(len)) return null;
    if (len === 0) return refs.length ? { refs, caps } : null;
    if (len < 4 || off + len > head.length) return null;
    let line = head.subarray(off + 4, off + len).toString('utf8');
    off += len;
    const nul = line.indexOf('\0');
    if (nul >= 0) {
      caps = new Set(line.slice(nul + 1).trim().split(' ').filter(Boolean));
      line = line.slice(0, nul);
    }
    const m = /^[0-9a-f]{40,64} [0-9a-f]{40,64} (\S+)/.exec(line.trim());
    if (m) refs.push(m[1]!);
  }
  return null;
}

/** A receive-pack result refusing every ref with `reason`, shown by git as `remote:` and `[remote rejected]`. */
export function refusePushResponse(cmds: PushCommands, reason: string): Buffer {
  const status = Buffer.concat([
    pkt('unpack refused by hyperhive\n'),
    ...cmds.refs.map((r) => pkt(`ng ${r} ${reason.replace(/\n/g, ' ')}\n`)),
    FLUSH,
  ]);
  if (!cmds.caps.has('side-band-64k') && !cmds.caps.has('side-band')) return status;
  const max = cmds.caps.has('side-band-64k') ? 65515 : 995;
  const parts: Buffer[] = [pkt(Buffer.concat([Buffer.from([2]), Buffer.from(`hyperhive: ${reason}\n`, 'utf8')]))];
  for (let i = 0; i < status.length; i += max) parts.push(pkt(Buffer.concat([Buffer.from([1]), status.subarray(i, i + max)])));
  parts.push(FLUSH);
  return Buffer.concat(parts);
}

/** Splits a CGI response head into status and headers. */
function parseCgiHead(head: string): { status: number; headers: [string, string][] } {
  let status = 200;
  const headers: [string, string][] = [];
  for (const line of head.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const name = line.slice(0, i).trim();
    const value = line.slice(i + 1).trim();
    if (name.toLowerCase() === 'status') status = parseInt(value, 10) || 500;
    else headers.push([name, value]);
  }
  return { status, headers };
}

function headerEnd(buf: Buffer): { at: number; len: number } | null {
  const crlf = buf.indexOf('\r\n\r\n');
  const lf = buf.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf <= lf)) return { at: crlf, len: 4 };
  if (lf >= 0) return { at: lf, len: 2 };
  return null;
}

export function createGitHttpHandler(opts: GitHttpOptions): GitHttpHandler {
  const reposDir = path.resolve(opts.reposDir);
  const maxPush = opts.maxPushBytes ?? DEFAULT_MAX_PUSH_BYTES;
  const log = opts.log ?? (() => {});

  return async (req, res) => {
    const route = parseGitRoute(req.url ?? '/', req.method ?? 'GET');
    if (route === null) return false;
    if (!route.ok) { sendText(res, route.status, route.message); return true; }

    const id = opts.authenticate(req.headers.authorization);
    if (!id) {
      sendText(res, 401, 'authentication required: use your hyperhive token as the password (any username)', {
        'www-authenticate': 'Basic realm="hyperhive", charset="UTF-8"',
      });
      return true;
    }
    if (!canAccessRepo(id, route.agent)) {
      sendText(res, 403, `forbidden: agent ${id.name}'s token reaches only its own repo (/git/${id.name}.git), not ${route.agent}'s`);
      return true;
    }
    const repo = path.join(reposDir, `${route.agent}.git`);
    if (!opts.agentExists(route.agent) || !fs.existsSync(path.join(repo, 'HEAD'))) {
      sendText(res, 404, `no agent named ${route.agent}`);
      return true;
    }

    const push = route.service === 'git-receive-pack' && route.rpc;
    const declared = req.headers['content-length'] !== undefined ? Number(req.headers['content-length']) : null;
    if (route.rpc && declared !== null && !(declared >= 0)) { sendText(res, 400, 'bad Content-Length'); return true; }

    const env = cgiEnv(reposDir, route, req, id, opts.hookEnv?.(id) ?? {});
    if (route.rpc && declared !== null && declared > maxPush) {
      await refuseOversized(req, res, push, maxPush, declared, Buffer.alloc(0), null);
      return true;
    }
    await runBackend(opts.gitHttpBackend ?? backendPath(), env, req, res, route.rpc, push, maxPush, log);
    return true;
  };
}

function cgiEnv(reposDir: string, route: Extract<GitRoute, { ok: true }>, req: IncomingMessage, id: Identity, hookEnv: Record<string, string>): Record<string, string> {
  const committer = identityFor(id.name);
  const env: Record<string, string> = {
    ...gitEnv(),
    // The receive rules parse agent.nix and size config files under the server's bounds.
    ...Object.fromEntries(EVAL_ENV_VARS.flatMap((k) => (process.env[k] ? [[k, process.env[k]!]] : []))),
    ...hookEnv,
    // The hooks run `node`: the one serving this request, whatever PATH the service got.
    PATH: `${path.dirname(process.execPath)}${path.delimiter}${gitEnv().PATH}`,
    GIT_PROJECT_ROOT: reposDir,
    GIT_HTTP_EXPORT_ALL: '1',
    GIT_CONFIG_COUNT: '2',
    GIT_CONFIG_KEY_0: 'http.receivepack',
    GIT_CONFIG_VALUE_0: 'true',
    // Objects from an agent are untrusted input: a malformed one is refused before it lands.
    GIT_CONFIG_KEY_1: 'receive.fsckObjects',
    GIT_CONFIG_VALUE_1: 'true',
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: `HTTP/${req.httpVersion}`,
    REQUEST_METHOD: req.method ?? 'GET',
    PATH_INFO: route.pathInfo,
    QUERY_STRING: route.service && !route.rpc ? `service=${route.service}` : '',
    REMOTE_USER: id.name,
    REMOTE_ADDR: req.socket.remoteAddress ?? '',
    // The reflog of a push names the pusher.
    GIT_COMMITTER_NAME: committer.name,
    GIT_COMMITTER_EMAIL: committer.email,
    HYPERHIVE_PUSHER: id.name,
    HYPERHIVE_PUSHER_KIND: id.kind,
  };
  const ct = req.headers['content-type'];
  if (ct) env.CONTENT_TYPE = ct;
  // CONTENT_LENGTH is left out on purpose: given one, git 2.39's http-backend spins forever on a body
  // that ends early (a client gone mid-push). Without it, receive-pack reads the body to EOF itself,
  // sees a truncated pack, fails and removes its quarantine. Node's parser already holds the body to
  // the declared length.
  const proto = req.headers['git-protocol'];
  if (typeof proto === 'string' && /^[A-Za-z0-9=:._-]{1,256}$/.test(proto)) env.GIT_PROTOCOL = proto;
  const enc = req.headers['content-encoding'];
  if (typeof enc === 'string' && /^(x-)?gzip$/i.test(enc.trim())) env.HTTP_CONTENT_ENCODING = enc.trim().toLowerCase();
  return env;
}

/** Reads (and drops) the rest of an oversized body so the client gets to read our answer, up to a cap. */
async function refuseOversized(req: IncomingMessage, res: ServerResponse, push: boolean, max: number, seen: number, head: Buffer, child: ChildProcess | null): Promise<void> {
  // A declared length is the whole size; a streamed body was cut at the limit, its size unknown.
  const size = child ? `over ${max}` : String(seen);
  const reason = `push refused: the request is ${size} bytes, above the push size limit of ${max} bytes; nothing was changed`;
  let headBuf = head;
  const drainCap = Math.max(4 * max, 256 * 1024 * 1024);
  let total = seen;
  await new Promise<void>((resolve) => {
    if (req.readableEnded || req.destroyed) { resolve(); return; }
    const onData = (c: Buffer) => {
      total += c.length;
      if (headBuf.length < 65536) headBuf = Buffer.concat([headBuf, c.subarray(0, 65536 - headBuf.length)]);
      if (total > drainCap) { req.off('data', onData); req.destroy(); resolve(); }
    };
    req.on('data', onData);
    req.once('end', () => resolve());
    req.once('close', () => resolve());
    req.resume();
  });
  if (child) await exited(child, 30_000);
  if (res.destroyed || req.destroyed && !req.readableEnded) { res.destroy(); return; }
  const cmds = push ? parsePushCommands(headBuf) : null;
  if (!cmds || !(cmds.caps.has('report-status') || cmds.caps.has('report-status-v2'))) {
    sendText(res, 413, reason);
    return;
  }
  if (!res.headersSent) res.writeHead(200, { 'content-type': 'application/x-git-receive-pack-result', 'cache-control': 'no-cache' });
  res.end(refusePushResponse(cmds, reason));
}

function exited(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => { child.kill('SIGKILL'); }, graceMs);
    child.once('close', () => { clearTimeout(t); resolve(); });
  });
}

async function runBackend(
  backend: string, env: Record<string, string>, req: IncomingMessage, res: ServerResponse,
  rpc: boolean, push: boolean, maxPush: number, log: (m: string) => void,
): Promise<void> {
  const child = spawn(backend, [], { env, cwd: env.GIT_PROJECT_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => { if (stderr.length < 4096) stderr += c.toString('utf8'); });
  child.stdin!.on('error', () => {});
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));

  // Request body → backend, counted. Over the limit: stop feeding (the backend sees a short pack,
  // fails and drops its quarantine, so the repo is untouched) and answer with the refusal.
  // A body cut short: EOF makes receive-pack fail on the truncated pack and remove its quarantine
  // (a signal would leave the quarantine behind), so nothing of the partial push stays.
  const stopBackend = () => {
    child.stdin!.end();
    setTimeout(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); }, 60_000).unref();
  };
  let oversized = false;
  let clientGone = false;
  let bodyBytes = 0;
  let head = Buffer.alloc(0);
  const feeding = new Promise<void>((resolve) => {
    if (!rpc) { child.stdin!.end(); req.resume(); resolve(); return; }
    const onData = (c: Buffer) => {
      bodyBytes += c.length;
      if (head.length < 65536) head = Buffer.concat([head, c.subarray(0, 65536 - head.length)]);
      if (bodyBytes > maxPush) {
        oversized = true;
        req.off('data', onData);
        req.pause();
        stopBackend();
        resolve();
        return;
      }
      if (!child.stdin!.write(c)) { req.pause(); child.stdin!.once('drain', () => req.resume()); }
    };
    req.on('data', onData);
    req.once('end', () => { child.stdin!.end(); resolve(); });
    req.once('close', () => { if (!req.readableEnded && !oversized) { clientGone = true; stopBackend(); } resolve(); });
    // A backend that is done before the body is (it refused early): nothing waits for 'drain' any more.
    child.once('close', () => { req.resume(); resolve(); });
  });

  // Backend output → response, after parsing the CGI head.
  let out = Buffer.alloc(0);
  let headDone = false;
  let forwarded = 0;
  const relaying = (async () => {
    for await (const chunk of child.stdout! as AsyncIterable<Buffer>) {
      if (oversized || clientGone || res.destroyed) continue;
      if (!headDone) {
        out = Buffer.concat([out, chunk]);
        const end = headerEnd(out);
        if (!end) { if (out.length > 65536) throw new Error('CGI head too large'); continue; }
        const { status, headers } = parseCgiHead(out.subarray(0, end.at).toString('latin1'));
        const rest = out.subarray(end.at + end.len);
        headDone = true;
        // Headers go out only once the body starts (or the backend ends), so a push found oversized
        // in the meantime can still be answered with a clean refusal.
        res.statusCode = status;
        const grouped = new Map<string, string[]>();
        for (const [k, v] of headers) grouped.set(k, [...(grouped.get(k) ?? []), v]);
        for (const [k, v] of grouped) res.setHeader(k, v.length === 1 ? v[0]! : v);
        if (rest.length) { forwarded += rest.length; if (!res.write(rest)) await waitDrain(res); }
        continue;
      }
      forwarded += chunk.length;
      if (!res.write(chunk)) await waitDrain(res);
    }
  })();

  const result = await Promise.race([
    Promise.all([feeding, relaying, exited(child, 10 * 60_000)]).then(() => null),
    spawnError,
  ]).catch((e: Error) => e);

  if (result instanceof Error) {
    log(`git http-backend failed: ${result.message}`);
    child.kill('SIGKILL');
    sendText(res, 500, 'git backend failed; see the server log');
    return;
  }
  if (oversized) {
    if (forwarded > 0) { res.destroy(); return; }
    await refuseOversized(req, res, push, maxPush, bodyBytes, head, child);
    return;
  }
  if (clientGone) { res.destroy(); return; }
  if (child.exitCode !== 0 && stderr.trim()) log(`git http-backend (${env.PATH_INFO}): exit ${child.exitCode}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
  if (!headDone) {
    sendText(res, 500, `git backend gave no answer${stderr.trim() ? `: ${stderr.trim().split('\n').pop()}` : ''}`);
    return;
  }
  res.end();
}

function waitDrain(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => { res.off('drain', done); res.off('close', done); resolve(); };
    res.once('drain', done);
    res.once('close', done);
  });
}
