#!/usr/bin/env node
// A stand-in for the `claude` CLI in harness tests: checks its argv against the
// contract (and the expectations of a plan), records each call, and replays
// recorded stream-json. Plain JS so it runs as an executable without tsx.
//
// Env:
//   FAKE_CLAUDE_PLAN     JSON file: { "turns": [Turn, ...], "expect": Expect, "log": "calls.jsonl" }
//                        the n-th invocation plays turns[n] (the last one repeats);
//                        invocations are counted by the lines of "log".
//   FAKE_CLAUDE_FIXTURE  (without a plan) the fixture to replay; FAKE_CLAUDE_MODE its mode.
// Turn:   { "fixture": path, "mode": "replay" | "hang" | "early-exit", "exit": n,
//           "stderr": text, "sessionId": id, "tools": [{ "name", "input" }] }
//   tools: before the fixture, each is a tool call the CLI's own rules leave undecided: an assistant
//   tool_use line, then a `control_request` (can_use_tool) on stdout; the fake waits (without a limit,
//   like the real CLI) for the harness's `control_response` on stdin, records it in <log>.permissions.jsonl,
//   and prints the tool_result the answer implies.
//   replay: print the fixture and exit (default: 0 when its result is a success, else 1);
//   hang: print the fixture, then print nothing and never exit;
//   early-exit: print the fixture and exit with "exit" (default 1) - the fixture has no result.
// The turn's prompt is the first stream-json user message on stdin (`--input-format stream-json`);
// after the result the fake waits for stdin to close, as the real CLI does.
// Expect: { "model", "allowedTools": [...], "disallowedTools": [...], "resume": id | null,
//           "promptIncludes": text, "systemPromptIncludes": text, "mcpServers": [names] }
// A broken contract prints "fake-claude: argv mismatch: ..." on stderr and exits 64.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';

const argv = process.argv.slice(2);
const problems = [];

function parseArgv(args) {
  const out = { flags: new Set(), values: {}, lists: {}, positional: [] };
  const VALUE = new Set(['--output-format', '--input-format', '--permission-prompt-tool', '--model', '--append-system-prompt', '--resume']);
  const LIST = new Set(['--allowedTools', '--disallowedTools', '--mcp-config']);
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '-p' || a === '--print') {
      out.flags.add('-p');
      if (i + 1 < args.length && !args[i + 1].startsWith('-')) out.positional.push(args[++i]);
    } else if (VALUE.has(a)) {
      if (i + 1 >= args.length) problems.push(`${a} without a value`);
      else if (a in out.values) problems.push(`${a} given twice`);
      else out.values[a] = args[++i];
    } else if (LIST.has(a)) {
      const list = [];
      while (i + 1 < args.length && !args[i + 1].startsWith('--')) list.push(args[++i]);
      if (list.length === 0) problems.push(`${a} without any value`);
      if (a in out.lists) problems.push(`${a} given twice`);
      out.lists[a] = list;
    } else if (a === '--verbose' || a === '--strict-mcp-config') {
      out.flags.add(a);
    } else if (a.startsWith('-')) {
      problems.push(`unexpected option ${a}`);
    } else {
      out.positional.push(a);
    }
  }
  return out;
}

const parsed = parseArgv(argv);
const plan = process.env.FAKE_CLAUDE_PLAN ? JSON.parse(readFileSync(process.env.FAKE_CLAUDE_PLAN, 'utf8')) : null;
const logFile = plan?.log;
const n = logFile && existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').filter(Boolean).length : 0;
const turn = plan
  ? plan.turns[Math.min(n, plan.turns.length - 1)]
  : { fixture: process.env.FAKE_CLAUDE_FIXTURE, mode: process.env.FAKE_CLAUDE_MODE ?? 'replay' };
const expect = plan?.expect ?? {};

// The contract every turn must keep.
if (!parsed.flags.has('-p')) problems.push('-p missing');
if (parsed.values['--input-format'] !== 'stream-json') problems.push('--input-format stream-json missing (the prompt goes on stdin)');
if (parsed.values['--permission-prompt-tool'] !== 'stdio') problems.push('--permission-prompt-tool stdio missing');
if (parsed.positional.length !== 0) problems.push(`expected no prompt in argv (it goes on stdin), got ${parsed.positional.length}`);
if (parsed.values['--output-format'] !== 'stream-json') problems.push('--output-format stream-json missing');
if (!parsed.flags.has('--verbose')) problems.push('--verbose missing');
if (!parsed.values['--model']) problems.push('--model missing');
if (!parsed.flags.has('--strict-mcp-config')) problems.push('--strict-mcp-config missing');
if (parsed.values['--append-system-prompt'] === undefined) problems.push('--append-system-prompt missing');
let mcpConfig = null;
const mcpFiles = parsed.lists['--mcp-config'] ?? [];
if (mcpFiles.length !== 1) problems.push('--mcp-config must name one file');
else {
  try {
    mcpConfig = JSON.parse(readFileSync(mcpFiles[0], 'utf8'));
    const h = mcpConfig?.mcpServers?.hyperhive;
    if (!h || h.type !== 'http' || !/\/mcp$/.test(h.url) || !/^Bearer \S+$/.test(h.headers?.Authorization ?? '')) {
      problems.push('--mcp-config lacks the hyperhive http server with a Bearer token');
    }
  } catch (e) { problems.push(`--mcp-config unreadable: ${e.message}`); }
}

// stdin: stream-json lines; the first user message is the prompt, control_responses answer our requests.
const stdinLines = [];
const stdinWaiters = [];
let stdinClosed = false;
let stdinBuf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (c) => {
  stdinBuf += c;
  let i;
  while ((i = stdinBuf.indexOf('\n')) >= 0) {
    const line = stdinBuf.slice(0, i); stdinBuf = stdinBuf.slice(i + 1);
    if (line.trim()) { stdinLines.push(line); stdinWaiters.splice(0).forEach((w) => w()); }
  }
});
process.stdin.on('end', () => { stdinClosed = true; stdinWaiters.splice(0).forEach((w) => w()); });
/** The next stdin message matching `pred` (null once stdin closed without one). */
async function nextInput(pred) {
  for (;;) {
    const i = stdinLines.findIndex((l) => { try { return pred(JSON.parse(l)); } catch { return false; } });
    if (i >= 0) return JSON.parse(stdinLines.splice(i, 1)[0]);
    if (stdinClosed) return null;
    await new Promise((r) => stdinWaiters.push(r));
  }
}
const userMsg = await nextInput((m) => m?.type === 'user');
const content = userMsg?.message?.content;
const prompt = typeof content === 'string' ? content : Array.isArray(content) ? content.filter((b) => b?.type === 'text').map((b) => b.text).join('\n') : undefined;
if (prompt === undefined) problems.push('no stream-json user message on stdin');
parsed.positional[0] = prompt;

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
if ('model' in expect && parsed.values['--model'] !== expect.model) problems.push(`model ${parsed.values['--model']} != ${expect.model}`);
if ('allowedTools' in expect && !same(parsed.lists['--allowedTools'] ?? [], expect.allowedTools)) problems.push(`allowedTools ${JSON.stringify(parsed.lists['--allowedTools'] ?? [])} != ${JSON.stringify(expect.allowedTools)}`);
if ('disallowedTools' in expect && !same(parsed.lists['--disallowedTools'] ?? [], expect.disallowedTools)) problems.push(`disallowedTools ${JSON.stringify(parsed.lists['--disallowedTools'] ?? [])} != ${JSON.stringify(expect.disallowedTools)}`);
if ('resume' in expect && (parsed.values['--resume'] ?? null) !== expect.resume) problems.push(`resume ${parsed.values['--resume'] ?? null} != ${expect.resume}`);
if (expect.promptIncludes && !(parsed.positional[0] ?? '').includes(expect.promptIncludes)) problems.push(`prompt lacks ${JSON.stringify(expect.promptIncludes)}`);
if (expect.systemPromptIncludes && !(parsed.values['--append-system-prompt'] ?? '').includes(expect.systemPromptIncludes)) problems.push(`system prompt lacks ${JSON.stringify(expect.systemPromptIncludes)}`);
if (expect.mcpServers && mcpConfig && !same(Object.keys(mcpConfig.mcpServers ?? {}), expect.mcpServers)) problems.push(`mcp servers ${JSON.stringify(Object.keys(mcpConfig.mcpServers ?? {}))} != ${JSON.stringify(expect.mcpServers)}`);

if (logFile) {
  appendFileSync(logFile, JSON.stringify({
    n, pid: process.pid, argv, prompt: parsed.positional[0], model: parsed.values['--model'], resume: parsed.values['--resume'] ?? null,
    allowedTools: parsed.lists['--allowedTools'] ?? [], disallowedTools: parsed.lists['--disallowedTools'] ?? [],
    systemPrompt: parsed.values['--append-system-prompt'], mcpConfig, cwd: process.cwd(),
    env: { MCP_CONNECTION_NONBLOCKING: process.env.MCP_CONNECTION_NONBLOCKING ?? null, SURFACE_ENV: process.env.SURFACE_ENV ?? null },
    problems,
  }) + '\n');
}
if (problems.length) {
  process.stderr.write(`fake-claude: argv mismatch: ${problems.join('; ')}\n`);
  process.exit(64);
}

const sessionId = turn.sessionId ?? `fake-session-${n + 1}`;
const emit = (o) => process.stdout.write(JSON.stringify({ ...o, session_id: sessionId }) + '\n');
if (turn.tools?.length) emit({ type: 'system', subtype: 'init', cwd: process.cwd(), tools: ['Bash', 'Edit', 'Write', 'Read'], mcp_servers: [], model: parsed.values['--model'], permissionMode: 'default', claude_code_version: 'fake-claude' });
let k = 0;
for (const tool of turn.tools ?? []) {
  const id = `toolu_fake_${n + 1}_${++k}`;
  emit({ type: 'assistant', message: { id: `msg_fake_${k}`, type: 'message', role: 'assistant', model: 'fake', content: [{ type: 'tool_use', id, name: tool.name, input: tool.input }], stop_reason: 'tool_use', usage: {} }, parent_tool_use_id: null });
  const requestId = `req-${n + 1}-${k}`;
  const askedAt = Date.now();
  emit({ type: 'control_request', request_id: requestId, request: { subtype: 'can_use_tool', tool_name: tool.name, input: tool.input, tool_use_id: id, permission_suggestions: [] } });
  const answer = await nextInput((m) => m?.type === 'control_response' && m.response?.request_id === requestId);
  const response = answer?.response?.response ?? null;
  if (logFile) appendFileSync(`${logFile}.permissions.jsonl`, JSON.stringify({ n, tool: tool.name, input: tool.input, toolUseId: id, answer: answer?.response ?? null, waitedMs: Date.now() - askedAt }) + '\n');
  const allowed = response?.behavior === 'allow' && response.updatedInput && typeof response.updatedInput === 'object';
  emit({ type: 'user', message: { role: 'user', content: [{ type: 'tool_result', tool_use_id: id, content: allowed ? `ran ${tool.name} with ${JSON.stringify(response.updatedInput)}` : (response?.message ?? 'no answer'), is_error: !allowed }] }, parent_tool_use_id: null });
}
const lines = turn.fixture ? readFileSync(turn.fixture, 'utf8').split('\n').filter((l) => l.length) : [];
let resultOk = false;
for (const line of lines) {
  let out = line;
  try {
    const ev = JSON.parse(line);
    if (ev && typeof ev === 'object' && 'session_id' in ev) { ev.session_id = sessionId; out = JSON.stringify(ev); }
    if (ev?.type === 'result') resultOk = ev.subtype === 'success' && ev.is_error === false;
  } catch { /* garbage lines are replayed as they are */ }
  process.stdout.write(out + '\n');
}
if (turn.stderr) process.stderr.write(turn.stderr);
const mode = turn.mode ?? 'replay';
if (mode === 'hang') {
  setInterval(() => {}, 1 << 30);
} else {
  const code = turn.exit ?? (mode === 'early-exit' ? 1 : resultOk ? 0 : 1);
  // Like the real CLI with stream-json input: after the result it waits for stdin to close.
  if (mode !== 'early-exit') await nextInput(() => false);
  process.stdout.write('', () => process.exit(code));
}
