import test, { type ExecutionContext } from 'ava';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';
import { classifyTurn } from '../../controller/harness/classify.ts';
import { httpHarnessIO } from '../../controller/harness/http-io.ts';
import type { TurnReport } from '../../controller/harness/io.ts';
import { runHarness } from '../../controller/harness/loop.ts';
import { parseScriptedArgs, scriptedAgentMain, scriptVars, toolPermitted } from '../../controller/harness/scripted-agent.ts';
import { parseStream } from '../../controller/harness/stream.ts';

// The controller's MCP server is built in another issue; this is a small real one on
// loopback with the Contract's tool names and arguments, identity from the Bearer token.
interface Controller {
  url: string;
  inbox: Record<string, { id: number; from: string; to: string; kind: string; body: string; createdAt: number }[]>;
  sent: { from: string; to: string; body: string }[];
  notes: Record<string, string>;
  model: Record<string, string>;
  proposals: { agent: string; files: unknown; message: string }[];
  turns: { agent: string; auth: string; report: TurnReport }[];
  calls: string[];
}
const TOKENS: Record<string, string> = { 'tok-alice': 'alice', 'tok-bob': 'bob' };

async function body(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
}

function mcpFor(agent: string, c: Controller): McpServer {
  const s = new McpServer({ name: 'hyperhive', version: '0.0.0-test' });
  const text = (v: unknown) => ({ content: [{ type: 'text' as const, text: typeof v === 'string' ? v : JSON.stringify(v) }] });
  let nextId = 100;
  s.registerTool('send', { description: 'send', inputSchema: { to: z.string(), body: z.string() } }, async ({ to, body: b }) => {
    c.calls.push(`${agent}:send`);
    c.sent.push({ from: agent, to, body: b });
    (c.inbox[to] ??= []).push({ id: nextId++, from: agent, to, kind: 'message', body: b, createdAt: Date.now() });
    return text({ id: nextId });
  });
  s.registerTool('recv', { description: 'recv', inputSchema: { wait_seconds: z.number().min(0).max(300).optional() } }, async ({ wait_seconds }) => {
    c.calls.push(`${agent}:recv`);
    const deadline = Date.now() + (wait_seconds ?? 0) * 1000;
    while (!(c.inbox[agent]?.length) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    return text({ messages: (c.inbox[agent] ?? []).splice(0) });
  });
  s.registerTool('write_notes', { description: 'notes', inputSchema: { content: z.string(), message: z.string().optional() } }, async ({ content }) => {
    c.calls.push(`${agent}:write_notes`);
    c.notes[agent] = content;
    return text('committed notes.md on live');
  });
  s.registerTool('propose_change', { description: 'propose', inputSchema: { files: z.record(z.string().nullable()), message: z.string() } }, async ({ files, message }) => {
    c.calls.push(`${agent}:propose_change`);
    c.proposals.push({ agent, files, message });
    return text({ request: 1 });
  });
  s.registerTool('read_config', { description: 'read', inputSchema: { path: z.string(), ref: z.enum(['applied', 'proposed', 'live']).optional() } }, async ({ path: p, ref }) => {
    c.calls.push(`${agent}:read_config:${ref}:${p}`);
    if (ref === 'live' && p === 'model') return text({ path: p, ref, content: (c.model[agent] ?? 'sonnet') + '\n' });
    if (ref === 'live' && p === 'notes.md') return text({ path: p, ref, content: c.notes[agent] ?? '' });
    return { isError: true, content: [{ type: 'text' as const, text: `not found: ${p}` }] };
  });
  return s;
}

async function startController(t: ExecutionContext): Promise<Controller> {
  const c: Controller = { url: '', inbox: {}, sent: [], notes: {}, model: {}, proposals: [], turns: [], calls: [] };
  const server: Server = createServer(async (req, res) => {
    const auth = req.headers.authorization ?? '';
    const agent = TOKENS[auth.replace(/^Bearer /, '')];
    if (!agent) { res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":{"code":"unauthorized","message":"bad token"}}'); return; }
    const turnPath = req.url?.match(/^\/api\/agents\/([a-z0-9-]+)\/turns$/);
    if (turnPath && req.method === 'POST') {
      if (turnPath[1] !== agent) { res.writeHead(403).end(); return; }
      c.turns.push({ agent, auth, report: (await body(req)) as TurnReport });
      res.writeHead(201, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    if (req.url === '/mcp' && req.method === 'POST') {
      const mcp = mcpFor(agent, c);
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
      res.on('close', () => { void transport.close(); void mcp.close(); });
      await mcp.connect(transport);
      await transport.handleRequest(req, res, await body(req));
      return;
    }
    res.writeHead(405).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  c.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return c;
}

async function tmp(t: ExecutionContext): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'hh-scripted-'));
  t.teardown(() => rm(d, { recursive: true, force: true }));
  return d;
}

async function mcpConfigFile(dir: string, url: string, token: string): Promise<string> {
  const f = path.join(dir, 'mcp.json');
  await writeFile(f, JSON.stringify({ mcpServers: { hyperhive: { type: 'http', url: `${url}/mcp`, headers: { Authorization: `Bearer ${token}` } } } }));
  return f;
}

const PROMPT = 'You have 1 new message.\n\n--- message 7 from bob at 2026-01-01T00:00:00.000Z ---\nping?\n\nReply with the hyperhive `send` tool where an answer is needed.';

test('scripted agent: steps call the real MCP endpoint as the token\'s agent; output is stream-json like the CLI', async (t) => {
  const c = await startController(t);
  const dir = await tmp(t);
  const script = path.join(dir, 'script.json');
  await writeFile(script, JSON.stringify({
    steps: [
      { call: { tool: 'send', args: { to: '{{from}}', body: 'pong to {{body}} (turn {{turn}})' } } },
      { notes: '# notes\n- answered {{from}}' },
      { propose: { files: { 'prompt.md': 'new prompt\n' }, message: 'sharper prompt' } },
      { reply: 'done' },
    ],
  }));
  const lines: string[] = [];
  const code = await scriptedAgentMain([
    '-p', PROMPT, '--output-format', 'stream-json', '--verbose', '--model', 'sonnet',
    '--mcp-config', await mcpConfigFile(dir, c.url, 'tok-alice'), '--strict-mcp-config', '--append-system-prompt', 'SYS',
    '--allowedTools', 'mcp__hyperhive__*', '--script', script,
  ], { out: (l) => lines.push(l), env: { HYPERHIVE_STATE_DIR: dir, HYPERHIVE_AGENT: 'alice' } });
  t.is(code, 0);
  const s = parseStream(lines.join('\n'));
  t.is(s.garbageLines, 0);
  t.deepEqual(s.init!.mcpServers, [{ name: 'hyperhive', status: 'connected' }]);
  t.true(s.init!.tools.includes('mcp__hyperhive__send'));
  t.is(s.init!.model, 'sonnet');
  t.deepEqual(s.toolCounts, { mcp__hyperhive__send: 1, mcp__hyperhive__write_notes: 1, mcp__hyperhive__propose_change: 1 });
  t.deepEqual(s.sends, ['bob']);
  t.is(s.result!.result, 'done');
  t.is(classifyTurn({ stream: s, exitCode: code, killedForSilence: false }).class, 'ok');
  t.deepEqual(c.sent, [{ from: 'alice', to: 'bob', body: 'pong to ping? (turn 1)' }]);
  t.is(c.notes.alice, '# notes\n- answered bob');
  t.deepEqual(c.proposals, [{ agent: 'alice', files: { 'prompt.md': 'new prompt\n' }, message: 'sharper prompt' }]);
});

test('scripted agent honours the tool permissions: a tool not allowed is denied and not called', async (t) => {
  const c = await startController(t);
  const dir = await tmp(t);
  await writeFile(path.join(dir, 'script.json'), JSON.stringify([{ call: { tool: 'send', args: { to: 'bob', body: 'x' } } }, { notes: 'n' }]));
  const lines: string[] = [];
  const code = await scriptedAgentMain([
    '-p', 'go', '--output-format', 'stream-json', '--verbose', '--model', 'm', '--mcp-config', await mcpConfigFile(dir, c.url, 'tok-alice'),
    '--strict-mcp-config', '--allowedTools', 'mcp__hyperhive__send', 'mcp__hyperhive__write_notes', '--disallowedTools', 'mcp__hyperhive__write_notes',
  ], { out: (l) => lines.push(l), env: { HYPERHIVE_CONFIG_DIR: dir, HYPERHIVE_STATE_DIR: dir } });
  t.is(code, 0);
  const s = parseStream(lines.join('\n'));
  t.is(s.result!.permissionDenials.length, 1);
  t.is(c.sent.length, 1);
  t.false('alice' in c.notes);
});

test('scripted agent with an unreachable MCP server: init says failed, the turn fails', async (t) => {
  const dir = await tmp(t);
  await writeFile(path.join(dir, 's.json'), JSON.stringify({ steps: [{ call: { tool: 'send', args: { to: 'bob', body: 'x' } } }] }));
  const lines: string[] = [];
  const code = await scriptedAgentMain(['-p', 'go', '--output-format', 'stream-json', '--verbose', '--model', 'm',
    '--mcp-config', await mcpConfigFile(dir, 'http://127.0.0.1:9', 'tok'), '--allowedTools', 'mcp__hyperhive', '--script', path.join(dir, 's.json')],
  { out: (l) => lines.push(l), env: { HYPERHIVE_STATE_DIR: dir } });
  t.is(code, 1);
  const s = parseStream(lines.join('\n'));
  t.deepEqual(s.init!.mcpServers, [{ name: 'hyperhive', status: 'failed' }]);
  t.is(classifyTurn({ stream: s, exitCode: code, killedForSilence: false }).class, 'failure');
});

test('scripted agent: {"turns": [...]} plays one list per run, the last repeating', async (t) => {
  const c = await startController(t);
  const dir = await tmp(t);
  const script = path.join(dir, 's.json');
  await writeFile(script, JSON.stringify({ turns: [[{ reply: 'first' }], [{ call: { tool: 'send', args: { to: 'operator', body: 'run {{turn}}' } } }]] }));
  const argv = ['-p', 'go', '--output-format', 'stream-json', '--verbose', '--model', 'm', '--mcp-config', await mcpConfigFile(dir, c.url, 'tok-alice'), '--allowedTools', 'mcp__hyperhive', '--script', script];
  const results: string[] = [];
  for (let i = 0; i < 3; i++) {
    const lines: string[] = [];
    await scriptedAgentMain(argv, { out: (l) => lines.push(l), env: { HYPERHIVE_STATE_DIR: dir } });
    results.push(parseStream(lines.join('\n')).result!.result ?? '');
  }
  t.is(results[0], 'first');
  t.deepEqual(c.sent.map((m) => m.body), ['run 2', 'run 3']);
});

test('scripted agent: bad usage and a missing script exit 2 with a message', async (t) => {
  const errs: string[] = [];
  t.is(await scriptedAgentMain(['--bogus'], { out: () => {}, err: (e) => errs.push(e), env: {} }), 2);
  t.is(await scriptedAgentMain(['-p', 'x', '--model', 'm'], { out: () => {}, err: (e) => errs.push(e), env: {} }), 2);
  t.regex(errs[0], /unknown option --bogus/);
  t.regex(errs[1], /no script/);
});

test('argv parsing, permission grammar and prompt variables', (t) => {
  const a = parseScriptedArgs(['-p', 'hi', '--model', 'x', '--allowedTools', 'Bash(git *)', 'Edit', '--resume', 's1']);
  t.deepEqual([a.prompt, a.model, a.allowed, a.resume], ['hi', 'x', ['Bash(git *)', 'Edit'], 's1']);
  t.true(toolPermitted('mcp__hyperhive__send', ['mcp__hyperhive'], []));
  t.true(toolPermitted('mcp__hyperhive__send', ['mcp__hyperhive__*'], []));
  t.false(toolPermitted('mcp__hyperhive__send', ['mcp__hyperhive__*'], ['mcp__hyperhive__send']));
  t.false(toolPermitted('mcp__hyperhive__send', ['mcp__hyper'], []));
  t.false(toolPermitted('mcp__hyperhive__send', [], []));
  const v = scriptVars(PROMPT, {});
  t.deepEqual([v.id, v.from, v.body], ['7', 'bob', 'ping?']);
});

test('end to end: harness with httpHarnessIO over real HTTP + MCP, the scripted agent as its CLI', async (t) => {
  const c = await startController(t);
  const root = await tmp(t);
  const configDir = path.join(root, 'config');
  const stateDir = path.join(root, 'state');
  await mkdir(configDir);
  await writeFile(path.join(configDir, 'prompt.md'), 'You answer pings.\n');
  await writeFile(path.join(configDir, 'hyperhive.json'), JSON.stringify({ tools: { allow: ['mcp__hyperhive__*'] } }));
  await writeFile(path.join(configDir, 'script.json'), JSON.stringify({ steps: [{ call: { tool: 'send', args: { to: '{{from}}', body: 'pong' } } }, { reply: 'ok' }] }));
  const tokenFile = path.join(root, 'token');
  await writeFile(tokenFile, 'tok-alice\n', { mode: 0o600 });
  c.model.alice = 'haiku';
  c.inbox.alice = [{ id: 1, from: 'bob', to: 'alice', kind: 'message', body: 'ping', createdAt: Date.now() }];
  const io = httpHarnessIO({ url: c.url, tokenFile, agent: 'alice', configDir, stateDir });
  t.teardown(() => io.close());
  const scripted = fileURLToPath(new URL('../../controller/harness/scripted-agent.ts', import.meta.url));
  const sum = await runHarness(io, {
    agent: 'alice', url: c.url, token: async () => (await readFile(tokenFile, 'utf8')).trim(), stateDir,
    cli: process.execPath, cliArgs: ['--import', import.meta.resolve('tsx'), scripted],
    env: { PATH: process.env.PATH, HYPERHIVE_CONFIG_DIR: configDir, HYPERHIVE_STATE_DIR: stateDir, HYPERHIVE_AGENT: 'alice' },
    recvWaitSeconds: 1, maxTurns: 1, evaluate: async (dir) => (await import('../../controller/harness/surface.ts')).evaluateSurface(dir, { nixInstantiate: null }),
  });
  t.is(sum.turns, 1);
  t.is(sum.reports[0].class, 'ok', sum.reports[0].error);
  t.deepEqual(c.sent, [{ from: 'alice', to: 'bob', body: 'pong' }]);
  t.is(c.turns.length, 1);
  const { report, agent } = c.turns[0];
  t.is(agent, 'alice');
  t.is(report.class, 'ok');
  t.is(report.model, 'haiku');
  t.deepEqual(report.tools, { mcp__hyperhive__send: 1 });
  t.deepEqual(report.sentTo, { peer: 1, operator: 0, manager: 0, system: 0 });
  t.true(c.calls.includes('alice:read_config:live:model'));
  t.true(c.calls.includes('alice:recv'));
});

test('main.ts: the runtime entry reports a missing CLI as a failure naming it, and stops on SIGTERM', async (t) => {
  const c = await startController(t);
  const root = await tmp(t);
  const configDir = path.join(root, 'config');
  await mkdir(configDir);
  // Made by every runtime before it starts the harness; a harness whose state dir is gone exits.
  await mkdir(path.join(root, 'state'));
  const tokenFile = path.join(root, 'token');
  await writeFile(tokenFile, 'tok-alice\n', { mode: 0o600 });
  c.inbox.alice = [{ id: 1, from: 'operator', to: 'alice', kind: 'message', body: 'hi', createdAt: Date.now() }];
  const { spawn } = await import('node:child_process');
  const main = fileURLToPath(new URL('../../controller/harness/main.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), main], {
    env: {
      PATH: process.env.PATH, HYPERHIVE_AGENT: 'alice', HYPERHIVE_URL: c.url, HYPERHIVE_TOKEN_FILE: tokenFile,
      HYPERHIVE_CONFIG_DIR: configDir, HYPERHIVE_STATE_DIR: path.join(root, 'state'), HYPERHIVE_AGENT_CLI: '/nonexistent/agent-cli',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  const deadline = Date.now() + 30_000;
  while (c.turns.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  child.kill('SIGTERM');
  t.is(await exited, 0);
  t.is(c.turns[0]?.report.class, 'failure', stderr);
  t.is(c.turns[0].report.error, 'agent CLI not found: /nonexistent/agent-cli');
  t.notRegex(stderr, /tok-alice/);
});

test('main.ts without its environment exits 2 naming what is missing', async (t) => {
  const { harnessMain, harnessEnv } = await import('../../controller/harness/main.ts');
  t.throws(() => harnessEnv({ HYPERHIVE_AGENT: 'a' }), { message: /HYPERHIVE_URL, HYPERHIVE_TOKEN_FILE, HYPERHIVE_CONFIG_DIR, HYPERHIVE_STATE_DIR/ });
  const e = harnessEnv({ HYPERHIVE_AGENT: 'a', HYPERHIVE_URL: 'u', HYPERHIVE_TOKEN_FILE: 't', HYPERHIVE_CONFIG_DIR: 'c', HYPERHIVE_STATE_DIR: 's', HYPERHIVE_AGENT_CLI: 'hyperhive scripted-agent' });
  t.deepEqual([e.cli, e.cliArgs], ['hyperhive', ['scripted-agent']]);
  t.is(harnessEnv({ HYPERHIVE_AGENT: 'a', HYPERHIVE_URL: 'u', HYPERHIVE_TOKEN_FILE: 't', HYPERHIVE_CONFIG_DIR: 'c', HYPERHIVE_STATE_DIR: 's' }).cli, 'claude');
  const orig = console.error;
  console.error = () => {};
  try { t.is(await harnessMain({}), 2); } finally { console.error = orig; }
});
