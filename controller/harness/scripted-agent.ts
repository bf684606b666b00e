// `hyperhive scripted-agent`: a deterministic stand-in for the `claude` CLI. Same argv
// contract, same stream-json output (init, assistant tool_use / user tool_result pairs,
// result), but its "model" is a JSON script whose steps call MCP tools on the real
// endpoint named by --mcp-config. The demo fleet and tests use it where no model is reachable.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { toolResultValue } from './mcp-client.ts';

export type ScriptStep =
  | { call: { tool: string; args?: Record<string, unknown> } }
  | { notes: string }
  | { propose: { files: unknown; message: string } }
  | { reply: string }
  /** A tool use the script only pretends to run (Bash, Edit, …): its tool_use and the given result. */
  | { simulate: { tool: string; input?: Record<string, unknown>; result?: string; isError?: boolean } }
  /** Holds the turn until the file exists (a test's signal that it saw the turn so far), at most timeoutMs. */
  | { wait: { file: string; timeoutMs?: number } };
/** Either the steps of every turn, or one list per turn (the n-th run plays turns[n]; the last repeats). */
export type Script = ScriptStep[] | { steps: ScriptStep[] } | { turns: ScriptStep[][] };

export interface ScriptedArgs {
  prompt: string;
  model: string;
  mcpConfig?: string;
  systemPrompt: string;
  allowed: string[];
  disallowed: string[];
  resume?: string;
  script?: string;
  outputFormat?: string;
  /** `stream-json`: the prompt is the first user message on stdin (what the harness sends). */
  inputFormat?: string;
  permissionPromptTool?: string;
}

const USAGE = `usage: hyperhive scripted-agent -p [<prompt>] [--input-format stream-json] [--permission-prompt-tool stdio] --output-format stream-json --verbose --model <model>
         --mcp-config <file> --strict-mcp-config [--append-system-prompt <text>]
         [--allowedTools <pattern>...] [--disallowedTools <pattern>...] [--resume <session id>] [--script <file>]
The script comes from --script, else $HYPERHIVE_SCRIPT, else script.json in $HYPERHIVE_CONFIG_DIR.`;

class UsageError extends Error {}

export function parseScriptedArgs(argv: string[]): ScriptedArgs {
  const a: Partial<ScriptedArgs> & { allowed: string[]; disallowed: string[] } = { allowed: [], disallowed: [], systemPrompt: '' };
  const value = (i: number, flag: string) => {
    if (i + 1 >= argv.length) throw new UsageError(`${flag} needs a value`);
    return argv[i + 1];
  };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    switch (f) {
      case '-p': case '--print':
        if (i + 1 < argv.length && !argv[i + 1].startsWith('-')) a.prompt = argv[++i];
        break;
      case '--output-format': a.outputFormat = value(i, f); i++; break;
      case '--input-format': a.inputFormat = value(i, f); i++; break;
      case '--permission-prompt-tool': a.permissionPromptTool = value(i, f); i++; break;
      case '--model': a.model = value(i, f); i++; break;
      case '--append-system-prompt': a.systemPrompt = value(i, f); i++; break;
      case '--resume': case '-r': a.resume = value(i, f); i++; break;
      case '--script': a.script = value(i, f); i++; break;
      case '--verbose': case '--strict-mcp-config': break;
      case '--mcp-config': case '--allowedTools': case '--allowed-tools': case '--disallowedTools': case '--disallowed-tools': {
        const list: string[] = [];
        while (i + 1 < argv.length && !argv[i + 1].startsWith('--')) list.push(argv[++i]);
        if (!list.length) throw new UsageError(`${f} needs at least one value`);
        if (f === '--mcp-config') a.mcpConfig = list[0];
        else if (f.startsWith('--allowed')) a.allowed.push(...list);
        else a.disallowed.push(...list);
        break;
      }
      default:
        if (f.startsWith('-')) throw new UsageError(`unknown option ${f}`);
        if (a.prompt === undefined) a.prompt = f;
        else throw new UsageError(`unexpected argument ${JSON.stringify(f)}`);
    }
  }
  if (a.inputFormat !== undefined && a.inputFormat !== 'stream-json') throw new UsageError('only --input-format stream-json is supported');
  if (a.prompt === undefined && a.inputFormat !== 'stream-json') throw new UsageError('a prompt is required (-p <prompt>, or --input-format stream-json and a user message on stdin)');
  if (a.outputFormat !== undefined && a.outputFormat !== 'stream-json') throw new UsageError('only --output-format stream-json is supported');
  return { model: 'scripted', ...a } as ScriptedArgs;
}

/** The claude CLI's permission grammar, as far as MCP tools need it: exact, `mcp__server`, or a trailing `*`. */
export function toolPermitted(name: string, allowed: string[], disallowed: string[]): boolean {
  const wholeServer = (p: string) => p.startsWith('mcp__') && p.split('__').length === 2;
  const matches = (p: string) => p === name || (p.endsWith('*') && name.startsWith(p.slice(0, -1))) || (wholeServer(p) && name.startsWith(p + '__'));
  if (disallowed.some(matches)) return false;
  return allowed.some(matches);
}

function stepsOf(script: Script, run: number): ScriptStep[] {
  if (Array.isArray(script)) return script;
  if ('turns' in script && Array.isArray(script.turns) && script.turns.length) return script.turns[Math.min(run, script.turns.length - 1)];
  if ('steps' in script && Array.isArray(script.steps)) return script.steps;
  throw new UsageError('script must be a list of steps, {"steps": [...]} or {"turns": [[...], ...]}');
}

/** Values a script may use as {{name}}: the last message of the prompt, the agent, the turn. */
export function scriptVars(prompt: string, extra: Record<string, string>): Record<string, string> {
  const re = /^--- message (\S+) from (\S+)(?: \([^)]*\))? at \S+ ---\n([\s\S]*?)(?=\n\n--- message |\n\nReply with |$)/gm;
  let last: RegExpExecArray | null = null;
  for (let m; (m = re.exec(prompt)); ) last = m;
  return { ...extra, prompt, id: last?.[1] ?? '', from: last?.[2] ?? '', body: last?.[3] ?? '' };
}

function substitute<T>(v: T, vars: Record<string, string>): T {
  if (typeof v === 'string') return v.replace(/\{\{(\w+)\}\}/g, (m, k: string) => vars[k] ?? m) as T;
  if (Array.isArray(v)) return v.map((x) => substitute(x, vars)) as T;
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, substitute(x, vars)])) as T;
  return v;
}

async function loadScript(args: ScriptedArgs, env: NodeJS.ProcessEnv): Promise<{ script: Script; file: string }> {
  const file = args.script ?? env.HYPERHIVE_SCRIPT ?? (env.HYPERHIVE_CONFIG_DIR ? path.join(env.HYPERHIVE_CONFIG_DIR, 'script.json') : undefined);
  if (!file) throw new UsageError('no script: pass --script, set HYPERHIVE_SCRIPT, or put script.json in HYPERHIVE_CONFIG_DIR');
  let text: string;
  try { text = await readFile(file, 'utf8'); } catch (e) { throw new UsageError(`script ${file} unreadable: ${(e as Error).message}`); }
  try { return { script: JSON.parse(text) as Script, file }; } catch (e) { throw new UsageError(`script ${file} is not valid JSON: ${(e as Error).message}`); }
}

/** Which run of this agent this is, counted in its state dir, so {"turns": [...]} plays in order. */
async function nextRun(dir: string): Promise<number> {
  const file = path.join(dir, 'scripted-agent-runs');
  let n = 0;
  try { n = Number((await readFile(file, 'utf8')).trim()) || 0; } catch { /* first run */ }
  await mkdir(dir, { recursive: true });
  await writeFile(file, String(n + 1) + '\n');
  return n;
}

interface HyperhiveServer { url: string; headers: Record<string, string> }
async function readMcpConfig(file: string | undefined): Promise<HyperhiveServer | undefined> {
  if (!file) return undefined;
  const cfg = JSON.parse(file.trim().startsWith('{') ? file : await readFile(file, 'utf8'));
  const h = cfg?.mcpServers?.hyperhive;
  if (!h || typeof h.url !== 'string') return undefined;
  return { url: h.url, headers: h.headers ?? {} };
}

const zeroUsage = { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };

/** Runs one turn; writes stream-json lines to `out`; returns the exit code (0 ok, 1 failed turn, 2 usage). */
/** The first stream-json user message's text on `input` (the harness's turn), or '' when none comes. */
export async function readStdinPrompt(input: NodeJS.ReadableStream): Promise<string> {
  let buf = '';
  for await (const chunk of input) {
    buf += chunk.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl); buf = buf.slice(nl + 1);
      try {
        const m = JSON.parse(line) as { type?: string; message?: { content?: unknown } };
        if (m.type !== 'user') continue;
        const c = m.message?.content;
        return typeof c === 'string' ? c : Array.isArray(c) ? c.map((b) => (typeof b?.text === 'string' ? b.text : '')).join('\n') : '';
      } catch { /* not a message */ }
    }
  }
  return '';
}

export async function scriptedAgentMain(argv: string[], io: { out?: (line: string) => void; err?: (text: string) => void; env?: NodeJS.ProcessEnv; stdin?: NodeJS.ReadableStream } = {}): Promise<number> {
  const out = io.out ?? ((l: string) => process.stdout.write(l + '\n'));
  const err = io.err ?? ((t: string) => process.stderr.write(t));
  const env = io.env ?? process.env;
  if (argv.includes('--help') || argv.includes('-h')) { out(USAGE); return 0; }
  const started = Date.now();
  let args: ScriptedArgs;
  let script: Script;
  let server: HyperhiveServer | undefined;
  try {
    args = parseScriptedArgs(argv);
    if (args.prompt === undefined) args.prompt = await readStdinPrompt(io.stdin ?? process.stdin);
    ({ script } = await loadScript(args, env));
    server = await readMcpConfig(args.mcpConfig);
  } catch (e) {
    err(`scripted-agent: ${(e as Error).message}\n${e instanceof UsageError ? USAGE + '\n' : ''}`);
    return 2;
  }
  const sessionId = randomUUID();
  const emit = (o: Record<string, unknown>) => out(JSON.stringify({ ...o, session_id: sessionId }));

  let client: Client | undefined;
  let mcpStatus = 'failed';
  let mcpTools: string[] = [];
  let connectError = server ? '' : 'no hyperhive server in --mcp-config';
  if (server) {
    try {
      client = new Client({ name: 'hyperhive-scripted-agent', version: '0.1.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: server.headers } }));
      mcpTools = (await client.listTools()).tools.map((t) => `mcp__hyperhive__${t.name}`);
      mcpStatus = 'connected';
    } catch (e) {
      connectError = (e as Error).message;
      client = undefined;
    }
  }
  emit({
    type: 'system', subtype: 'init', cwd: process.cwd(), tools: mcpTools,
    mcp_servers: [{ name: 'hyperhive', status: mcpStatus }], model: args.model, permissionMode: 'default',
    apiKeySource: 'none', claude_code_version: 'hyperhive-scripted-agent',
  });

  const stateDir = env.HYPERHIVE_STATE_DIR ?? process.cwd();
  const run = await nextRun(stateDir);
  const vars = scriptVars(args.prompt, { agent: env.HYPERHIVE_AGENT ?? '', model: args.model, turn: String(run + 1) });
  let steps: ScriptStep[];
  try { steps = stepsOf(script, run); } catch (e) { err(`scripted-agent: ${(e as Error).message}\n`); await client?.close(); return 2; }

  const errors: string[] = [];
  const denials: unknown[] = [];
  let reply = '';
  let turns = 0;
  let n = 0;
  for (const raw of steps) {
    const step = substitute(raw, vars);
    let tool: string;
    let input: Record<string, unknown>;
    if ('reply' in step) {
      reply = step.reply;
      emit({ type: 'assistant', message: { id: `msg_scripted_${++n}`, type: 'message', role: 'assistant', model: args.model, content: [{ type: 'text', text: reply }], stop_reason: 'end_turn', usage: zeroUsage }, parent_tool_use_id: null });
      turns++;
      continue;
    } else if ('wait' in step) {
      const end = Date.now() + (step.wait.timeoutMs ?? 60_000);
      while (!existsSync(step.wait.file) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      if (!existsSync(step.wait.file)) errors.push(`step ${n + 1}: ${step.wait.file} did not appear within ${step.wait.timeoutMs ?? 60_000} ms`);
      continue;
    } else if ('simulate' in step) {
      const id = `toolu_scripted_${++n}`;
      turns++;
      emit({ type: 'assistant', message: { id: `msg_scripted_${n}`, type: 'message', role: 'assistant', model: args.model, content: [{ type: 'tool_use', id, name: step.simulate.tool, input: step.simulate.input ?? {} }], stop_reason: 'tool_use', usage: zeroUsage }, parent_tool_use_id: null });
      emit({ type: 'user', message: { role: 'user', content: [{ type: 'tool_result', tool_use_id: id, is_error: step.simulate.isError === true, content: [{ type: 'text', text: step.simulate.result ?? '' }] }] }, parent_tool_use_id: null });
      continue;
    } else if ('notes' in step) { tool = 'write_notes'; input = { content: step.notes }; }
    else if ('propose' in step) { tool = 'propose_change'; input = { files: step.propose.files, message: step.propose.message }; }
    else if ('call' in step && step.call && typeof step.call.tool === 'string') { tool = step.call.tool; input = step.call.args ?? {}; }
    else { errors.push(`step ${n + 1}: unknown step ${JSON.stringify(raw)}`); continue; }

    const name = tool.startsWith('mcp__') ? tool : `mcp__hyperhive__${tool}`;
    const id = `toolu_scripted_${++n}`;
    turns++;
    emit({ type: 'assistant', message: { id: `msg_scripted_${n}`, type: 'message', role: 'assistant', model: args.model, content: [{ type: 'tool_use', id, name, input }], stop_reason: 'tool_use', usage: zeroUsage }, parent_tool_use_id: null });
    let text: string;
    let isError = false;
    if (!toolPermitted(name, args.allowed, args.disallowed)) {
      isError = true;
      text = `Claude requested permissions to use ${name}, but you haven't granted it yet.`;
      denials.push({ tool_name: name, tool_use_id: id, tool_input: input });
    } else if (!client) {
      isError = true;
      text = `MCP server hyperhive is not connected: ${connectError}`;
      errors.push(`${name}: ${text}`);
    } else {
      try {
        const res = await client.callTool({ name: name.replace(/^mcp__hyperhive__/, ''), arguments: input });
        const value = toolResultValue(name, res as never);
        text = typeof value === 'string' ? value : JSON.stringify(value);
      } catch (e) {
        isError = true;
        text = (e as Error).message;
        errors.push(`${name}: ${text}`);
      }
    }
    emit({ type: 'user', message: { role: 'user', content: [{ type: 'tool_result', tool_use_id: id, is_error: isError, content: [{ type: 'text', text }] }] }, parent_tool_use_id: null });
  }
  await client?.close().catch(() => {});

  const failed = errors.length > 0;
  emit({
    type: 'result', subtype: failed ? 'error_during_execution' : 'success', is_error: failed,
    duration_ms: Date.now() - started, duration_api_ms: 0, num_turns: turns,
    result: failed ? errors.join('\n') : reply, stop_reason: 'end_turn', terminal_reason: failed ? 'tool_error' : 'completed',
    total_cost_usd: 0, usage: zeroUsage, permission_denials: denials, ...(failed ? { errors } : {}),
  });
  return failed ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await scriptedAgentMain(process.argv.slice(2));
}
