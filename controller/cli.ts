import { parseFlags, UsageError, type FlagSpec, type Parsed } from './cli/args.ts';
import { ApiClient, RefusedError } from './cli/client.ts';
import { resolveStateDir } from './paths.ts';
import { resolveLogFormat, type LogFormat } from './log-format.ts';
import { isHyperhiveError } from './errors.ts';
import { formatKept, lifecycleCommands } from './cli/lifecycle.ts';
import { agentsCommand, bulkCommand } from './cli/fleet.ts';
import { formatAgentDetail, formatApprovals, formatLog, formatApproval, formatOperators, formatPolicy, formatRuntime, formatTranscript, formatTurns } from './cli/format.ts';

interface Command {
  usage: string;
  summary: string;
  help?: string;
  flags: FlagSpec;
  min: number;
  max: number;
  run(p: Parsed, io: IO): Promise<number>;
  /** Takes its argv as is (no flag parsing): commands that mimic another program's argv. */
  raw?: boolean;
}

export interface IO { out(s: string): void; err(s: string): void }
const defaultIO: IO = { out: (s) => process.stdout.write(`${s}\n`), err: (s) => process.stderr.write(`${s}\n`) };

const COMMON: FlagSpec = { state: 'string', url: 'string', help: 'boolean' };
const client = (f: Record<string, string | boolean>): ApiClient => new ApiClient(resolveStateDir(f.state as string | undefined), f.url as string | undefined);
const enc = encodeURIComponent;
const json = (io: IO, v: unknown): number => { io.out(JSON.stringify(v, null, 2)); return 0; };

const commands: Record<string, Command> = {
  serve: {
    usage: 'serve [--state DIR] [--listen 127.0.0.1:8000] [--runtime process|nspawn] [--systemd auto|on|off] [--log-format auto|json|text] [--demo] [--agent-command CMD]',
    summary: 'run the controller in the foreground (SIGTERM stops it cleanly)',
    help: 'State dir: --state, else $HYPERHIVE_STATE, else ./.hyperhive. --demo creates a manager and one sub-agent if absent.\nAgents run the harness, which runs --agent-cli each turn (default: claude). --agent-command idle runs the built-in idle agent instead; any other value is the full command (split on spaces).\nThe reconciliation log goes to stderr: as text (time, agent, event, message) when stderr is a terminal, as JSON lines otherwise; --log-format json|text chooses.\nQuorum rules: <state>/policy.json (a bad file stops the start). A tool call waits for an operator at most $HYPERHIVE_TOOL_TIMEOUT_MS (default 600000), then is denied.\n--runtime nspawn: each agent in an unprivileged systemd-nspawn container (needs root and systemd-container; settings in HYPERHIVE_NSPAWN_HOST_DIRS, HYPERHIVE_NSPAWN_ARGS, HYPERHIVE_NSPAWN_NIXOS, HYPERHIVE_NIX_BUILD; a hyperhive.json may say "runtime"). --systemd on: each agent is the transient unit hyperhive-agent-<name>.service, started and watched over the system bus ($DBUS_SYSTEM_BUS_ADDRESS); off: the controller supervises them; auto (default): on where systemd runs the host.',
    flags: { ...COMMON, listen: 'string', runtime: 'string', systemd: 'string', 'log-format': 'string', demo: 'boolean', 'agent-command': 'string', 'agent-cli': 'string', 'public-url': 'string' },
    min: 0, max: 0,
    async run({ flags }, io) {
      const runtime = (flags.runtime as string | undefined) ?? 'process';
      if (runtime !== 'process' && runtime !== 'nspawn') throw new UsageError(`--runtime must be process or nspawn, got ${runtime}`);
      const systemd = (flags.systemd as string | undefined) ?? 'auto';
      if (!['auto', 'on', 'off'].includes(systemd)) throw new UsageError(`--systemd must be auto, on or off, got ${systemd}`);
      let logFormat: LogFormat;
      try { logFormat = resolveLogFormat(flags['log-format'] as string | undefined, !!process.stderr.isTTY); } catch (e) { throw new UsageError((e as Error).message); }
      // A SIGTERM that arrives while starting still stops cleanly, once started.
      let early: string | null = null;
      const earlyStop = (sig: string) => { early = sig; };
      const onTerm = () => earlyStop('SIGTERM');
      const onInt = () => earlyStop('SIGINT');
      process.once('SIGTERM', onTerm);
      process.once('SIGINT', onInt);
      const { serve } = await import('./serve.ts');
      const cmd = (flags['agent-command'] as string | undefined) ?? process.env.HYPERHIVE_AGENT_COMMAND;
      const agentCli = (flags['agent-cli'] as string | undefined) ?? process.env.HYPERHIVE_AGENT_CLI;
      const s = await serve({
        state: resolveStateDir(flags.state as string | undefined), listen: (flags.listen as string | undefined) ?? '127.0.0.1:8000',
        runtime: runtime as 'process', systemd: systemd as 'auto', demo: !!flags.demo, logFormat,
        agentCommand: cmd === 'idle' ? 'idle' : cmd ? cmd.split(' ').filter(Boolean) : undefined, agentCli, publicUrl: flags['public-url'] as string | undefined, out: io.out,
      });
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      await new Promise<void>((resolve) => {
        const stop = (sig: string) => { io.err(`received ${sig}: stopping`); void s.close().then(resolve); };
        if (early) { stop(early); return; }
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
      return 0;
    },
  },
  'agent create': {
    usage: 'agent create NAME', summary: 'create an agent (active at once) from the templates', flags: { ...COMMON, json: 'boolean' }, min: 1, max: 1,
    async run({ positional, flags }, io) {
      const a = await client(flags).request('POST', '/api/agents', { name: positional[0] });
      if (flags.json) return json(io, a);
      io.out(`created agent ${positional[0]}`);
      return 0;
    },
  },
  agents: agentsCommand,
  bulk: bulkCommand,
  runtime: {
    usage: 'runtime [--json]', summary: 'show the runtime agents run on and the health of its D-Bus watcher (GET /api/runtime)',
    flags: { ...COMMON, json: 'boolean' }, min: 0, max: 0,
    async run({ flags }, io) {
      const h = await client(flags).request<never>('GET', '/api/runtime');
      if (flags.json) return json(io, h);
      io.out(formatRuntime(h));
      return 0;
    },
  },
  agent: {
    usage: 'agent NAME [--json]', summary: "show one agent's status", flags: { ...COMMON, json: 'boolean' }, min: 1, max: 1,
    async run({ positional, flags }, io) {
      const c = client(flags);
      const a = await c.request<never>('GET', `/api/agents/${enc(positional[0]!)}`);
      if (flags.json) return json(io, a);
      const open = await c.request<never[]>('GET', `/api/approvals?agent=${enc(positional[0]!)}&status=pending,diverged`);
      io.out(formatAgentDetail(a, open) + formatKept([a]));
      return 0;
    },
  },
  approvals: {
    usage: 'approvals [--status pending,diverged] [--agent NAME] [--all] [--json]', summary: 'list requests (default: open ones)',
    flags: { ...COMMON, json: 'boolean', status: 'string', agent: 'string', all: 'boolean' }, min: 0, max: 0,
    async run({ flags }, io) {
      const q = new URLSearchParams();
      if (!flags.all) q.set('status', (flags.status as string | undefined) ?? 'pending,diverged');
      if (flags.agent) q.set('agent', flags.agent as string);
      const list = await client(flags).request<never[]>('GET', `/api/approvals?${q}`);
      if (flags.json) return json(io, list);
      io.out(formatApprovals(list));
      return 0;
    },
  },
  show: {
    usage: 'show ID [--json]', summary: 'show a request and its patch', flags: { ...COMMON, json: 'boolean' }, min: 1, max: 1,
    async run({ positional, flags }, io) {
      const a = await client(flags).request<never>('GET', `/api/approvals/${enc(positional[0]!)}`);
      if (flags.json) return json(io, a);
      io.out(formatApproval(a));
      return 0;
    },
  },
  approve: {
    usage: 'approve ID [--note TEXT] [--always [--pattern P]]', summary: 'approve a pending request (a tool request: allow the call once)',
    help: 'A change request: applied moves to its head and the runtime applies it (under a quorum, your vote is recorded until enough operators approved).\nA tool request: the call runs once; --always also proposes the pattern (default: exactly this call; --pattern to widen it) in hyperhive.json, as a change request approved like any other.',
    flags: { ...COMMON, json: 'boolean', note: 'string', always: 'boolean', pattern: 'string' }, min: 1, max: 1,
    async run({ positional, flags }, io) {
      if (flags.pattern && !flags.always) throw new UsageError('--pattern goes with --always');
      const body = { ...(flags.note ? { note: flags.note } : {}), ...(flags.always ? { always: true } : {}), ...(flags.pattern ? { pattern: flags.pattern } : {}) };
      const a = await client(flags).request<{ id: number; kind: string; agent: string; head: string | null; status: string; required: number; votes: { decision: string }[]; always?: { pattern: string; request: number | null } }>('POST', `/api/approvals/${enc(positional[0]!)}/approve`, body);
      if (flags.json) return json(io, a);
      if (a.kind === 'tool') io.out(`allowed tool request #${a.id} of ${a.agent} once${a.always ? `; ${a.always.pattern} proposed${a.always.request ? ` as request #${a.always.request}` : ''}` : ''}`);
      else if (a.status === 'pending') io.out(`your approval of request #${a.id} is recorded: ${a.votes.filter((v) => v.decision === 'approve').length} of ${a.required}`);
      else io.out(`approved request #${a.id}: ${a.agent} applied is now ${(a.head ?? '').slice(0, 7)}`);
      return 0;
    },
  },
  reject: {
    usage: 'reject ID --reason TEXT', summary: 'reject a request (not raised again for the same change)', flags: { ...COMMON, json: 'boolean', reason: 'string' }, min: 1, max: 1,
    async run({ positional, flags }, io) {
      if (!flags.reason) throw new UsageError('reject needs --reason TEXT');
      const a = await client(flags).request<{ id: number }>('POST', `/api/approvals/${enc(positional[0]!)}/reject`, { reason: flags.reason });
      if (flags.json) return json(io, a);
      io.out(`rejected request #${a.id}`);
      return 0;
    },
  },
  revert: {
    usage: 'revert NAME', summary: "commit applied's tree on proposed (drops the unapproved change)", flags: { ...COMMON, json: 'boolean' }, min: 1, max: 1,
    async run({ positional, flags }, io) {
      const r = await client(flags).request<{ commit: string }>('POST', `/api/agents/${enc(positional[0]!)}/revert`, {});
      if (flags.json) return json(io, r);
      io.out(`proposed reverted to applied's tree: ${r.commit.slice(0, 7)}`);
      return 0;
    },
  },
  rollback: {
    usage: 'rollback NAME REV', summary: 'propose going back to an earlier applied revision (approved like any change)', flags: { ...COMMON, json: 'boolean' }, min: 2, max: 2,
    async run({ positional, flags }, io) {
      const c = client(flags);
      const r = await c.request<{ commit: string; approval: { id: number } | null }>('POST', `/api/agents/${enc(positional[0]!)}/rollback`, { revision: positional[1] });
      if (flags.json) return json(io, r);
      if (r.approval) { io.out(`rollback proposed as ${r.commit.slice(0, 7)}: request #${r.approval.id} waits for approval`); return 0; }
      // No request: either the revision has applied's tree (nothing would change in what runs, so
      // applied moved at once), or the request is not raised yet. Say which.
      const a = await c.request<{ applied: string | null }>('GET', `/api/agents/${enc(positional[0]!)}`);
      io.out(a.applied === r.commit
        ? `rollback ${r.commit.slice(0, 7)} has the tree applied already runs: applied moved to it without a request (nothing changes in what runs)`
        : `rollback proposed as ${r.commit.slice(0, 7)}; no request is open for it yet: see \`hyperhive approvals --agent ${positional[0]}\``);
      return 0;
    },
  },
  suspend: {
    usage: 'suspend NAME', summary: 'stop applying changes to an agent (it keeps running)', flags: { ...COMMON, json: 'boolean' }, min: 1, max: 1,
    async run({ positional, flags }, io) { const a = await client(flags).request('POST', `/api/agents/${enc(positional[0]!)}/suspend`, {}); if (flags.json) return json(io, a); io.out(`suspended ${positional[0]}`); return 0; },
  },
  resume: {
    usage: 'resume NAME', summary: 'resume applying changes', flags: { ...COMMON, json: 'boolean' }, min: 1, max: 1,
    async run({ positional, flags }, io) { const a = await client(flags).request('POST', `/api/agents/${enc(positional[0]!)}/resume`, {}); if (flags.json) return json(io, a); io.out(`resumed ${positional[0]}`); return 0; },
  },
  model: {
    usage: 'model NAME MODEL', summary: "set an agent's model on live (next turn, no restart)", flags: { ...COMMON, json: 'boolean' }, min: 2, max: 2,
    async run({ positional, flags }, io) {
      const a = await client(flags).request<{ model: string; live: string }>('POST', `/api/agents/${enc(positional[0]!)}/model`, { model: positional[1] });
      if (flags.json) return json(io, a);
      io.out(`model of ${positional[0]} is now ${a.model} (live ${a.live.slice(0, 7)})`);
      return 0;
    },
  },
  logs: {
    usage: 'logs [NAME] [--follow] [--json] [--limit N]', summary: 'print the reconciliation log', flags: { ...COMMON, json: 'boolean', follow: 'boolean', limit: 'string' }, min: 0, max: 1,
    async run({ positional, flags }, io) {
      const c = client(flags);
      const q = new URLSearchParams();
      if (positional[0]) q.set('agent', positional[0]);
      q.set('limit', String(flags.limit ?? 100));
      let entries = await c.request<{ id: number }[]>('GET', `/api/log?${q}`);
      const print = (es: never[]) => { for (const e of es) io.out(flags.json ? JSON.stringify(e) : formatLog(e)); };
      print(entries as never[]);
      if (!flags.follow) return 0;
      let last = entries.at(-1)?.id ?? 0;
      for (;;) {
        await new Promise((r) => setTimeout(r, 500));
        q.set('after', String(last));
        entries = await c.request<{ id: number }[]>('GET', `/api/log?${q}`);
        print(entries as never[]);
        last = entries.at(-1)?.id ?? last;
      }
    },
  },
  turns: {
    usage: 'turns NAME [ID] [--limit N] [--json]', summary: "an agent's turns (newest first), or one turn's transcript",
    help: 'Transcripts are kept for the last 50 turns or 20 MiB per agent, whichever is smaller ($HYPERHIVE_TRANSCRIPT_TURNS / _BYTES in serve\'s environment).',
    flags: { ...COMMON, json: 'boolean', limit: 'string' }, min: 1, max: 2,
    async run({ positional, flags }, io) {
      const c = client(flags);
      const [name, id] = positional as [string, string | undefined];
      if (id !== undefined) {
        if (!/^[1-9][0-9]*$/.test(id)) throw new UsageError(`ID must be a turn number like 12, got ${JSON.stringify(id)}`);
        const t = await c.request<never>('GET', `/api/agents/${enc(name)}/turns/${id}`);
        if (flags.json) return json(io, t);
        io.out(formatTranscript(t));
        return 0;
      }
      const list = await c.request<never[]>('GET', `/api/agents/${enc(name)}/turns${flags.limit ? `?limit=${enc(String(flags.limit))}` : ''}`);
      if (flags.json) return json(io, list);
      io.out(formatTurns(list));
      return 0;
    },
  },
  clone: {
    usage: 'clone NAME [DIR]', summary: "clone an agent's repo (origin at the controller, token read by a credential helper)", flags: { ...COMMON, json: 'boolean' }, min: 1, max: 2,
    async run({ positional, flags }, io) {
      const c = client(flags);
      const { cloneCommand } = await import('../repos/clone-command.ts');
      const { statePaths } = await import('./paths.ts');
      const r = await cloneCommand({ url: c.url, tokenFile: statePaths(resolveStateDir(flags.state as string | undefined)).operatorToken, agent: positional[0]!, dir: positional[1] });
      if (flags.json) return json(io, r);
      io.out(`cloned ${positional[0]} into ${r.dir} (branch proposed checked out; live beside it). Commit and \`git push\` to propose a change.`);
      return 0;
    },
  },
  harness: {
    usage: 'harness', summary: 'run the agent harness (what every runtime starts; reads the HYPERHIVE_* environment)', flags: { help: 'boolean' }, min: 0, max: 0,
    async run() { const { harnessMain } = await import('./harness/main.ts'); return harnessMain(); },
  },
  'scripted-agent': {
    usage: 'scripted-agent [claude-compatible argv] [--script FILE]', summary: 'a deterministic stand-in for the claude CLI, following a JSON script', flags: {}, min: 0, max: Infinity,
    async run({ positional }) { const { scriptedAgentMain } = await import('./harness/scripted-agent.ts'); return scriptedAgentMain(positional); },
    raw: true,
  },
  'mcp-stdio': {
    usage: 'mcp-stdio [--url URL] [--token-file FILE]',
    summary: "a stdio MCP server that forwards to the controller's /mcp (for MCP clients that only speak stdio)",
    help: 'URL: --url, else $HYPERHIVE_URL (the controller, or its /mcp endpoint). Token: --token-file, else $HYPERHIVE_TOKEN_FILE.\nThe identity is the token\'s (an agent, or the operator). Speaks JSON-RPC on stdin/stdout; problems go to stderr.',
    flags: { url: 'string', 'token-file': 'string', help: 'boolean' }, min: 0, max: 0,
    async run({ flags }, io) {
      const url = (flags.url as string | undefined) ?? process.env.HYPERHIVE_URL;
      const tokenFile = (flags['token-file'] as string | undefined) ?? process.env.HYPERHIVE_TOKEN_FILE;
      if (!url) throw new UsageError('--url URL is required (or set HYPERHIVE_URL)');
      if (!tokenFile) throw new UsageError('--token-file FILE is required (or set HYPERHIVE_TOKEN_FILE)');
      const { readTokenFile } = await import('./auth/index.ts');
      const token = readTokenFile(tokenFile);
      if (!token) { io.err(`hyperhive mcp-stdio: cannot read a token from ${tokenFile}`); return 1; }
      const { runStdioBridge } = await import('./mcp/stdio-bridge.ts');
      await runStdioBridge({ url, token, log: io.err });
      return 0;
    },
  },
  operator: {
    usage: 'operator add NAME | list [--json] | revoke NAME', summary: 'manage named operators (each with a token of its own)',
    help: 'operator add NAME      prints the new operator\'s token once, one line on stdout (nothing keeps it but its hash)\noperator list [--json] the operators, and whether each is logged in to the UI now\noperator revoke NAME   its token stops working and its sessions end at once\nThe first operator, "operator", keeps its token in <state>/operator.token and cannot be revoked.',
    flags: { ...COMMON }, min: 0, max: 0,
    async run() { throw new UsageError('expected a subcommand: add NAME, list or revoke NAME'); },
  },
  'operator add': {
    usage: 'operator add NAME [--json]', summary: "add an operator: prints its token once (one line on stdout)", flags: { ...COMMON, json: 'boolean' }, min: 1, max: 1,
    async run({ positional, flags }, io) {
      const r = await client(flags).request<{ name: string; token: string }>('POST', '/api/operators', { name: positional[0] });
      if (flags.json) return json(io, r);
      io.out(r.token);
      io.err(`operator ${r.name} added; its token (above) is shown only this once`);
      return 0;
    },
  },
  'operator list': {
    usage: 'operator list [--json]', summary: 'list operators and who is logged in', flags: { ...COMMON, json: 'boolean' }, min: 0, max: 0,
    async run({ flags }, io) {
      const list = await client(flags).request<never[]>('GET', '/api/operators');
      if (flags.json) return json(io, list);
      io.out(formatOperators(list));
      return 0;
    },
  },
  'operator revoke': {
    usage: 'operator revoke NAME', summary: "revoke an operator: its token and sessions end at once", flags: { ...COMMON, json: 'boolean' }, min: 1, max: 1,
    async run({ positional, flags }, io) {
      const r = await client(flags).request('DELETE', `/api/operators/${enc(positional[0]!)}`);
      if (flags.json) return json(io, r);
      io.out(`revoked operator ${positional[0]}: its token and sessions ended`);
      return 0;
    },
  },
  policy: {
    usage: 'policy [--json]', summary: 'show the quorum rules in force (<state>/policy.json)', flags: { ...COMMON, json: 'boolean' }, min: 0, max: 0,
    async run({ flags }, io) {
      const p = await client(flags).request<never>('GET', '/api/policy');
      if (flags.json) return json(io, p);
      io.out(formatPolicy(p));
      return 0;
    },
  },
  repair: {
    usage: 'repair NAME', summary: 'restore a deleted applied ref from the audit trail, a missing proposed, the hooks', flags: { ...COMMON, json: 'boolean' }, min: 1, max: 1,
    async run({ positional, flags }, io) {
      const r = await client(flags).request<{ actions: string[] }>('POST', `/api/agents/${enc(positional[0]!)}/repair`, {});
      if (flags.json) return json(io, r);
      for (const a of r.actions) io.out(a);
      return 0;
    },
  },
};

Object.assign(commands, lifecycleCommands({ common: COMMON, client }));

/** Extra commands registered by other modules (clone, mcp-stdio, scripted-agent). */
export function registerCommand(name: string, cmd: Command): void { commands[name] = cmd; }

function usage(): string {
  const lines = ['usage: hyperhive <command> [options]', '', 'commands:'];
  for (const [name, c] of Object.entries(commands)) lines.push(`  ${c.usage.padEnd(48)} ${c.summary}`);
  lines.push('', 'Every command takes --state DIR (else $HYPERHIVE_STATE, else ./.hyperhive) and --help.');
  lines.push('Client commands find the server in <state>/server.json (or --url URL) and use <state>/operator.token.');
  return lines.join('\n');
}

export async function main(argv: string[], io: IO = defaultIO): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.out(usage());
    return argv.length === 0 ? 2 : 0;
  }
  const two = `${argv[0]} ${argv[1]}`;
  const name = commands[two] ? two : argv[0]!;
  const cmd = commands[name];
  if (!cmd) { io.err(`hyperhive: unknown command ${JSON.stringify(argv[0])}\n\n${usage()}`); return 2; }
  const rest = argv.slice(name.split(' ').length);
  try {
    if (cmd.raw) return await cmd.run({ positional: rest, flags: {} }, io);
    const p = parseFlags(rest, cmd.flags);
    if (p.flags.help) { io.out(`usage: hyperhive ${cmd.usage}\n\n${cmd.summary}.${cmd.help ? `\n${cmd.help}` : ''}`); return 0; }
    if (p.positional.length < cmd.min || p.positional.length > cmd.max) throw new UsageError(`expected ${cmd.min === cmd.max ? cmd.min : `${cmd.min} to ${cmd.max}`} argument(s), got ${p.positional.length}`);
    return await cmd.run(p, io);
  } catch (e) {
    if (e instanceof UsageError) { io.err(`hyperhive ${name}: ${e.message}\nusage: hyperhive ${cmd.usage}`); return 2; }
    if (e instanceof RefusedError || isHyperhiveError(e)) { io.err(`hyperhive ${name}: ${(e as Error).message}`); return 1; }
    io.err(`hyperhive ${name}: ${(e as Error).stack ?? e}`);
    return 1;
  }
}
