// `hyperhive mcp-stdio` driven by the SDK's StdioClientTransport: the real CLI as a child process,
// forwarding to /mcp of a real server, with the token file's identity.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { startServer, createAgents, type TestServer, agentToken } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';
import { connect, ok } from '../helpers/mcp.ts';
import { CLI, PROJECT_ROOT as ROOT } from '../helpers/paths.ts';

let s: TestServer;

test.before(async () => {
  s = await startServer();
  await createAgents(s, ['manager', 'alpha']);
});
test.after.always(async () => { await s?.close(); });

function stdioClient(args: string[]): { client: Client; transport: StdioClientTransport; stderr: () => string } {
  const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'mcp-stdio', ...args], cwd: ROOT, env: { ...process.env, HYPERHIVE_URL: '', HYPERHIVE_TOKEN_FILE: '' } as Record<string, string>, stderr: 'pipe' });
  let err = '';
  transport.stderr?.on('data', (c: Buffer) => { err += c.toString('utf8'); });
  return { client: new Client({ name: 'stdio-test', version: '0.0.1' }), transport, stderr: () => err };
}

test.serial('the stdio bridge speaks for the token file\'s agent: tools, send, long-poll recv', async (t) => {
  const { client, transport, stderr } = stdioClient(['--url', s.url, '--token-file', path.join(s.state, 'agents', 'alpha', 'token')]);
  await client.connect(transport);
  try {
    t.is(client.getServerVersion()?.name, 'hyperhive');
    const names = (await client.listTools()).tools.map((x) => x.name);
    t.true(names.includes('send') && names.includes('recv'));
    t.false(names.includes('request_spawn'), 'a sub-agent lists no manager tool');
    t.like(await ok(client, 'whoami'), { name: 'alpha', kind: 'agent' });
    const sent = await ok(client, 'send', { to: 'manager', body: 'via stdio' });
    t.is(s.bus.get(sent.id)?.from, 'alpha', 'the identity is the token\'s');
    // a long-polling recv through the bridge wakes on a message sent over HTTP
    const waiting = ok(client, 'recv', { wait_seconds: 60 }, 90_000);
    await waitFor('alpha to wait', () => s.bus.waiting('alpha') > 0);
    const manager = await connect(s.url, agentToken(s.state, 'manager'));
    await ok(manager, 'send', { to: 'alpha', body: 'back over http' });
    await manager.close();
    t.deepEqual((await waiting).messages.map((m: any) => [m.from, m.body]), [['manager', 'back over http']]);
    // tool errors come through as tool errors
    const r = await client.callTool({ name: 'list_agents', arguments: {} }) as { isError?: boolean; content: { text: string }[] };
    t.true(r.isError);
    t.regex(r.content[0]!.text, /Tool list_agents not found/);
  } finally {
    await client.close();
  }
  t.notRegex(stderr(), /Error/);
});

test.serial('a base URL ending in /mcp works too; an unreachable controller answers requests with an error', async (t) => {
  const { client, transport } = stdioClient(['--url', `${s.url}/mcp`, '--token-file', path.join(s.state, 'agents', 'manager', 'token')]);
  await client.connect(transport);
  try {
    t.like(await ok(client, 'whoami'), { name: 'manager', manager: true });
  } finally { await client.close(); }

  const dead = stdioClient(['--url', 'http://127.0.0.1:9', '--token-file', path.join(s.state, 'agents', 'manager', 'token')]);
  const e = await t.throwsAsync(dead.client.connect(dead.transport));
  t.regex(e!.message, /unreachable|refused|fetch failed/i);
  await dead.client.close().catch(() => {});
});

test.serial('usage errors exit 2; an unreadable token file exits 1', (t) => {
  const run = (...args: string[]) => spawnSync(process.execPath, [CLI, 'mcp-stdio', ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, HYPERHIVE_URL: '', HYPERHIVE_TOKEN_FILE: '' }, input: '' });
  const noUrl = run('--token-file', '/nonexistent');
  t.is(noUrl.status, 2);
  t.regex(noUrl.stderr, /--url/);
  const noFile = run('--url', s.url, '--token-file', '/nonexistent/token');
  t.is(noFile.status, 1);
  t.regex(noFile.stderr, /cannot read a token/);
  const help = run('--help');
  t.is(help.status, 0);
  t.regex(help.stdout, /mcp-stdio/);
});
