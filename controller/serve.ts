import fs from 'node:fs';
import http from 'node:http';
import crypto from 'node:crypto';
import path from 'node:path';
import { IDLE_AGENT, PROJECT_ROOT, type Controller } from './controller.ts';
import { createCore, type Core } from './core.ts';
import type { LogFormat } from './log-format.ts';
import { checkConfigRevision } from './config-check.ts';
import { openDb } from './db/open.ts';
import { statePaths } from './paths.ts';
import { createRuntime, type Runtime } from './runtime/index.ts';
import { nspawnOptionsFromEnv, chooseAgentRuntime } from './runtime/from-env.ts';
import type { NspawnRuntimeOptions } from './runtime/nspawn.ts';
import { createApp, type AppDeps } from '../web/app.ts';
import { SessionStore } from '../web/session.ts';
import { createTerminal, terminalOptionsFromEnv, type SessionOptions } from '../web/terminal/index.ts';
import { HyperhiveError } from './errors.ts';
import { DEFAULT_MAX_FILE_BYTES } from '../repos/receive.ts';
import { useGitRunner } from '../repos/git.ts';
import { tokenFromAuthorization } from './auth/index.ts';
import { createGitHttpHandler } from '../repos/http.ts';
import { StatsService, asStatsBus, type StatsServiceOptions } from './stats/service.ts';
import { statsRoutes } from '../web/routes/stats.ts';
import { turnsRoutes } from '../web/routes/turns.ts';
import { transcriptRetentionFromEnv, type TranscriptRetention } from './transcripts/index.ts';
import { Bus, busLimitsFromEnv, busQuotaReporter } from './bus/index.ts';
import { createMcpHandler, wireSystemMessages } from './mcp/index.ts';
import type { Spawner } from './spawn.ts';
import { can } from './lifecycle.ts';
import { busRouter } from '../web/routes/bus.ts';
import { orphanTimeoutMs } from './harness/orphan.mjs';
import { operatorsRouter } from '../web/routes/operators.ts';
import { webhooksRouter } from '../web/routes/webhooks.ts';
import { toolsRouter } from '../web/routes/tools.ts';
import { lifecycleRouter } from '../web/routes/lifecycle.ts';
import { DEFAULT_TOOL_TIMEOUT_MS } from './tools/gate.ts';
import { WebhookService, WebhookStore, type RetryOptions } from './webhooks/index.ts';

export interface ServeOptions {
  state: string;
  listen: string;
  runtime: 'process' | 'nspawn' | 'fake';
  systemd: 'auto' | 'on' | 'off';
  demo?: boolean;
  /** 'idle' for the built-in idle agent, or a full argv; default: the harness. */
  agentCommand?: string[] | 'idle';
  /** The agent CLI the harness runs each turn (default: `claude`, found on PATH or in node_modules/.bin). */
  agentCli?: string;
  /** Extra environment per agent (the demo fleet's scripts). */
  agentEnv?: (name: string) => Record<string, string>;
  /** Evaluate proposed configs (agent.nix via nix-instantiate) when requests are raised and approved; default on. */
  configCheck?: boolean;
  /** Prepare each agent's working clone at <state dir>/repo on apply (default on). */
  agentClone?: boolean;
  resyncMs?: number;
  /** The controller's URL as agents reach it (default: the listen address). */
  publicUrl?: string;
  extendApp?: (deps: AppDeps, controller: Controller) => void;
  out?: (line: string) => void;
  /** Reconciliation log as JSON lines on stderr (default on). */
  logToStderr?: boolean;
  /** JSON lines (default) or text (`serve --log-format`, auto: text on a terminal). */
  logFormat?: LogFormat;
  /** Stats, stuck detection and notes compaction settings (tests shorten the intervals). */
  stats?: StatsServiceOptions;
  /** How long acked bus messages are kept (default: the bus's, 7 days). */
  busRetentionMs?: number;
  /** The largest file a push may bring (default: $HYPERHIVE_MAX_FILE_BYTES, else 50 MB). */
  maxFileBytes?: number;
  /** Terminal sessions' limits (tests shorten them); default: $HYPERHIVE_TERMINAL_IDLE_MS / _SCROLLBACK_BYTES, else 15 min and 1 MiB. */
  terminal?: Partial<SessionOptions>;
  /** Turn transcripts kept per agent (default: $HYPERHIVE_TRANSCRIPT_TURNS / _BYTES, else 50 turns or 20 MiB, whichever is smaller). */
  transcripts?: Partial<TranscriptRetention>;
  /** How long a tool call waits for an operator before it is denied (default: $HYPERHIVE_TOOL_TIMEOUT_MS, else 10 min). */
  toolTimeoutMs?: number;
  /** Webhook delivery: retries (default 6 attempts, 1 s doubling to 5 min) and one attempt's limit (default 10 s). */
  webhooks?: { retry?: Partial<RetryOptions>; timeoutMs?: number };
  /** nspawn runtime settings beyond --systemd (default: from $HYPERHIVE_NSPAWN_* and $HYPERHIVE_NIX_BUILD; tests pass a builder). */
  nspawn?: Omit<NspawnRuntimeOptions, 'systemd'>;
  /** Crashes within a window that make an agent Stalled/CrashLoop (default: $HYPERHIVE_CRASH_LOOP_*, else 5 in 10 min). */
  crashLoop?: { crashes: number; windowMs: number };
  /** At most one crash message per sub-agent to the manager per this many ms (default 60000). */
  crashMessageEveryMs?: number;
}

/** $HYPERHIVE_CRASH_LOOP_CRASHES (default 5; 0 turns CrashLoop off) within $HYPERHIVE_CRASH_LOOP_WINDOW_MS (default 600000). */
export function crashLoopFromEnv(env: NodeJS.ProcessEnv = process.env): { crashes: number; windowMs: number } {
  const num = (name: string, dflt: number, min: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return dflt;
    const n = Number(raw);
    if (!/^[0-9]+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min) throw new HyperhiveError('bad_request', `${name} must be a whole number of at least ${min}, got ${JSON.stringify(raw)}`);
    return n;
  };
  return { crashes: num('HYPERHIVE_CRASH_LOOP_CRASHES', 5, 0), windowMs: num('HYPERHIVE_CRASH_LOOP_WINDOW_MS', 600_000, 1) };
}

/** $HYPERHIVE_MAX_FILE_BYTES as a byte count; a value that is not one stops the start with its name. */
export function maxFileBytesFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.HYPERHIVE_MAX_FILE_BYTES;
  if (raw === undefined || raw === '') return DEFAULT_MAX_FILE_BYTES;
  const n = Number(raw);
  if (!/^[0-9]+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new HyperhiveError('bad_request', `HYPERHIVE_MAX_FILE_BYTES must be a positive whole number of bytes, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** $HYPERHIVE_TOOL_TIMEOUT_MS (default 10 min): how long a tool call waits for an operator; not a positive whole number stops the start with its name. */
export function toolTimeoutFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.HYPERHIVE_TOOL_TIMEOUT_MS;
  if (raw === undefined || raw === '') return DEFAULT_TOOL_TIMEOUT_MS;
  const n = Number(raw);
  if (!/^[0-9]+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < 1) throw new HyperhiveError('bad_request', `HYPERHIVE_TOOL_TIMEOUT_MS must be a positive whole number of milliseconds, got ${JSON.stringify(raw)}`);
  return n;
}

/** $HYPERHIVE_ORPHAN_TIMEOUT_MS (default 10 min), passed to every agent; a value that is not a positive whole number stops the start with its name. */
export function orphanTimeoutFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  try { return orphanTimeoutMs(env); } catch (e) { throw new HyperhiveError('bad_request', (e as Error).message); }
}

export interface Served {
  controller: Controller;
  /** Every part, for tests that look inside (production consumers get their parts from serve()). */
  core: Core;
  bus: Bus;
  spawner: Spawner;
  webhooks: WebhookService;
  server: http.Server;
  url: string;
  close(): Promise<void>;
}

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:]+\]|[^:]+):(\d{1,5})$/.exec(listen);
  if (!m || Number(m[2]) > 65535) throw new HyperhiveError('bad_request', `--listen must be HOST:PORT (e.g. 127.0.0.1:8000), got ${JSON.stringify(listen)}`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

/** The harness, started through the CLI so tsx is registered wherever the agent's cwd is. */
export const HARNESS = [process.execPath, path.join(PROJECT_ROOT, 'bin', 'hyperhive.mjs'), 'harness'];

function defaultAgentCli(): string {
  const onPath = (process.env.PATH ?? '').split(':').some((d) => d && fs.existsSync(path.join(d, 'claude')));
  const local = path.join(PROJECT_ROOT, 'node_modules', '.bin', 'claude');
  return !onPath && fs.existsSync(local) ? local : 'claude';
}

const isLoopback = (host: string): boolean => host === 'localhost' || host === '::1' || /^127\./.test(host);

/** Starts the controller and its HTTP server; resolves once /api/health answers. */
export async function serve(o: ServeOptions): Promise<Served> {
  const out = o.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const { host, port } = parseListen(o.listen);
  const maxFileBytes = o.maxFileBytes ?? maxFileBytesFromEnv();
  const orphanMs = String(orphanTimeoutFromEnv());
  // The controller is long-lived and large: git starts from small shell workers, not from a fork of it.
  if (process.env.HYPERHIVE_GIT_RUNNER !== '0') useGitRunner(true);
  const runtime: Runtime = createRuntime({
    kind: o.runtime, systemd: o.systemd, nspawn: { ...nspawnOptionsFromEnv(), ...o.nspawn },
    choose: (spec, revision) => chooseAgentRuntime(spec.repo, revision),
  });
  const paths = statePaths(o.state);
  fs.mkdirSync(paths.root, { recursive: true, mode: 0o700 });
  const db = openDb(paths.db);
  let url = o.publicUrl ?? '';
  const hookToken = crypto.randomBytes(24).toString('base64url');
  const agentCli = o.agentCli ?? defaultAgentCli();
  const command = o.agentCommand === 'idle' ? IDLE_AGENT : o.agentCommand ?? HARNESS;
  const core = createCore({
    db, paths, runtime, url: () => url, resyncMs: o.resyncMs, logToStderr: o.logToStderr ?? process.env.HYPERHIVE_LOG_STDERR !== '0', logFormat: o.logFormat,
    agentCommand: () => command,
    agentEnv: (n) => ({ HYPERHIVE_AGENT_CLI: agentCli, HYPERHIVE_ORPHAN_TIMEOUT_MS: orphanMs, ...(o.demo ? demoEnv(n) : {}), ...o.agentEnv?.(n) }),
    checkConfig: o.configCheck === false ? undefined : checkConfigRevision,
    agentClone: o.agentClone, maxFileBytes, crashLoop: o.crashLoop ?? crashLoopFromEnv(), transcripts: { ...transcriptRetentionFromEnv(), ...o.transcripts }, toolTimeoutMs: o.toolTimeoutMs ?? toolTimeoutFromEnv(),
  });
  const { controller, spawner } = core;
  const gitHttp = createGitHttpHandler({
    reposDir: paths.repos,
    authenticate: (h) => controller.authenticate(tokenFromAuthorization(h)),
    agentExists: (n) => { const a = controller.findAgent(n); return !!a && can(a.state, 'serve-git'); },
    // The hooks run inside git-receive-pack: they reach back to say what the push raised.
    hookEnv: () => ({ HYPERHIVE_URL: url, HYPERHIVE_HOOK_TOKEN: hookToken, HYPERHIVE_MAX_FILE_BYTES: String(maxFileBytes), ...(process.env.HYPERHIVE_HOOK_CURL ? { HYPERHIVE_HOOK_CURL: process.env.HYPERHIVE_HOOK_CURL } : {}) }),
    log: (m) => core.log.warn(null, 'git-http', m),
  });
  // The bus shares the controller's db; MCP, the operator's routes and the UI all use this one instance.
  const bus = new Bus(db, {
    retentionMs: o.busRetentionMs, onListenerError: (e) => core.log.warn(null, 'bus', `listener: ${(e as Error).message}`),
    limits: busLimitsFromEnv(), onRefused: busQuotaReporter({ warn: (...a) => core.log.warn(...a), record: (a, k, v) => stats.store.record(a, k, v) }),
  });
  const unwireSystem = wireSystemMessages({ events: core.events, agents: core.agents, approvals: core.approvalStore, log: core.log }, bus, { crashEveryMs: o.crashMessageEveryMs });
  const pruneTimer = setInterval(() => { try { bus.prune(); } catch (e) { core.log.warn(null, 'bus', `prune: ${(e as Error).message}`); } }, 3_600_000);
  pruneTimer.unref();
  const mcp = createMcpHandler({ controller, bus, spawner, log: core.log, baseUrl: () => url });
  // One session store for the pages, the operators' routes and the terminal's upgrade (which checks the same cookie and CSRF token).
  const sessions = new SessionStore();
  const terminal = createTerminal({ controller, log: core.log, sessions, options: { ...terminalOptionsFromEnv(), ...o.terminal } });
  const webhooks = new WebhookService({
    store: new WebhookStore(db), events: core.events, log: core.log, baseUrl: () => url,
    approval: (id) => core.approvalStore.get(id), required: (a) => core.approvals.required(a),
    conditions: async (n) => (controller.findAgent(n) ? (await controller.getAgent(n)).conditions : null),
    retry: o.webhooks?.retry, timeoutMs: o.webhooks?.timeoutMs,
  });
  const deps: AppDeps = {
    controller, baseUrl: () => url, hookToken, rawHandlers: [gitHttp, mcp], bus, transcripts: core.transcripts, sessions, terminal: true,
    apiRoutes: [(auth) => busRouter({ controller, bus, auth }), (auth) => operatorsRouter({ operators: core.operators, policy: core.policy, sessions, auth }),
      (auth) => webhooksRouter({ webhooks, auth }), (auth) => toolsRouter({ tools: core.tools, auth }), (auth) => lifecycleRouter({ controller, auth })],
  };

  const stats = new StatsService(core, { bus: () => asStatsBus(deps.bus), ...o.stats });
  controller.addPurgeStep({ what: 'stats', run: (n) => stats.store.forget(n) });
  // Its unread messages go with it: a new agent of the same name starts with an empty inbox.
  controller.addPurgeStep({ what: 'inbox', run: (n) => bus.ack(n, Number.MAX_SAFE_INTEGER) });
  (deps.apiRoutes ??= []).push((auth) => statsRoutes({ stats, auth }), (auth) => turnsRoutes({ transcripts: core.transcripts, auth }));
  o.extendApp?.(deps, controller);
  const app = createApp(deps);
  const server = http.createServer(app.callback());
  server.keepAliveTimeout = 5000;
  server.on('upgrade', terminal.upgrade);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE') reject(new HyperhiveError('conflict', `cannot listen on ${host}:${port}: the address is already in use (another hyperhive? pick another with --listen)`));
      else if (e.code === 'EACCES') reject(new HyperhiveError('forbidden', `cannot listen on ${host}:${port}: permission denied`));
      else reject(e);
    });
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as { port: number };
  const shownHost = host.includes(':') ? `[${host}]` : host;
  if (!url) url = `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : shownHost}:${addr.port}`;
  if (!isLoopback(host)) out(`WARNING: listening on ${host}, which is not a loopback address: anyone who can reach it can try tokens. Auth is always on; put TLS in front of it.`);
  await controller.start();
  // The quorum rules: validated at start (createCore threw on a bad file), then on every change.
  core.policy.watch();
  const policyTimer = setInterval(() => core.policy.safeReload(), 10_000);
  policyTimer.unref();
  stats.start();
  webhooks.start();
  core.tools.start();
  fs.writeFileSync(`${paths.root}/server.json`, `${JSON.stringify({ url, pid: process.pid, startedAt: Date.now() })}\n`);
  out(`hyperhive listening on ${url} (runtime: ${runtime.kind}, state: ${paths.root})`);
  out(`operator token: ${paths.operatorToken}`);
  if (o.demo) await demoFleet(controller, bus, out);
  let closed = false;
  return {
    controller, core, bus, spawner, webhooks, server, url,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(pruneTimer);
      clearInterval(policyTimer);
      core.policy.close();
      unwireSystem();
      // Waiting recvs answer at once, so their requests do not hold the server open.
      bus.close();
      terminal.close();
      await new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); });
      await stats.stop();
      await webhooks.stop();
      core.tools.stop();
      await controller.stop();
      try { fs.rmSync(`${paths.root}/server.json`, { force: true }); } catch { /* ignore */ }
      db.close();
    },
  };
}

const DEMO_AGENTS = ['manager', 'worker'];

/** The demo fleet runs the scripted stand-in for claude, so it works with no model and no network. */
function demoEnv(name: string): Record<string, string> {
  if (!DEMO_AGENTS.includes(name)) return {};
  return {
    HYPERHIVE_AGENT_CLI: `${process.execPath} ${path.join(PROJECT_ROOT, 'bin', 'hyperhive.mjs')} scripted-agent`,
    HYPERHIVE_SCRIPT: path.join(PROJECT_ROOT, 'templates', 'demo', `${name}.json`),
  };
}

async function demoFleet(c: Controller, bus: Bus, out: (l: string) => void): Promise<void> {
  let created = false;
  for (const name of DEMO_AGENTS) {
    if (c.findAgent(name)) continue;
    await c.createAgent(name, { kind: 'operator', name: 'operator' });
    out(`demo: created agent ${name} (scripted agent: templates/demo/${name}.json)`);
    created = true;
  }
  if (created) {
    bus.send({ from: 'operator', to: 'manager', body: 'Demo kickoff: check on worker, and propose any config change it needs.' });
    out('demo: sent the kickoff message to manager; the manager will propose a change to worker for you to approve');
  }
}
