// The real Claude Code CLI (@anthropic-ai/claude-code, pinned in package.json) as an MCP client of
// /mcp with an agent token: its init line must show the hyperhive server connected with our tools.
// Without credentials it then fails to log in, which is expected.
import test from 'ava';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT as ROOT, tmpDir } from '../helpers/paths.ts';
import { startServer, type TestServer, agentToken } from '../helpers/server.ts';

const CLAUDE = path.join(ROOT, 'node_modules', '.bin', 'claude');
const PINNED = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).devDependencies['@anthropic-ai/claude-code'] as string;

let s: TestServer;
test.before(async () => {
  s = await startServer();
  const r = await s.api('POST', '/api/agents', { name: 'alpha' });
  if (r.status !== 201) throw new Error(`create alpha: ${r.status}`);
});
test.after.always(async () => { await s?.close(); });

/** Runs the CLI asynchronously: the server answering it lives in this same process. */
function runClaude(args: string[], env: Record<string, string>, cwd: string, timeoutMs = 150_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(CLAUDE, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString('utf8'); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString('utf8'); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`claude did not finish within ${timeoutMs} ms:\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`)); }, timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

const cliPresent = fs.existsSync(CLAUDE);
(cliPresent ? test : test.skip)('claude -p with --mcp-config on /mcp: hyperhive connected, send and recv among its tools', async (t) => {
  const home = tmpDir('hh-claude-home-');
  try {
    const config = path.join(home, 'mcp.json');
    fs.writeFileSync(config, JSON.stringify({
      mcpServers: { hyperhive: { type: 'http', url: `${s.url}/mcp`, headers: { Authorization: `Bearer ${agentToken(s.state, 'alpha')}` } } },
    }), { mode: 0o600 });
    // A clean HOME: no login, no user config; only what a fresh agent container would have.
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, MCP_CONNECTION_NONBLOCKING: '0', DISABLE_AUTOUPDATER: '1' };
    const r = await runClaude(['-p', 'hi', '--output-format', 'stream-json', '--verbose', '--mcp-config', config, '--strict-mcp-config'], env, home);
    const lines = r.stdout.split('\n').filter((l) => l.trim().startsWith('{')).map((l) => JSON.parse(l));
    const init = lines.find((l) => l.type === 'system' && l.subtype === 'init');
    t.truthy(init, `no init line in:\n${r.stdout.slice(0, 2000)}\n${r.stderr.slice(0, 2000)}`);
    t.is(init.claude_code_version, PINNED, 'the pinned CLI version ran');
    t.deepEqual(init.mcp_servers.filter((m: any) => m.name === 'hyperhive').map((m: any) => m.status), ['connected']);
    for (const tool of ['mcp__hyperhive__send', 'mcp__hyperhive__recv', 'mcp__hyperhive__whoami', 'mcp__hyperhive__propose_change']) {
      t.true(init.tools.includes(tool), `${tool} among the CLI's tools`);
    }
    // alpha is a sub-agent: the CLI is handed none of the manager's tools.
    t.deepEqual(init.tools.filter((x: string) => /^mcp__hyperhive__(list_agents|agent_status|set_model|apply_commit|request_)/.test(x)), []);
    // Without credentials the turn itself fails (not logged in): expected, and it says so.
    const result = lines.find((l) => l.type === 'result');
    t.log(`result: ${result ? `${result.subtype} ${String(result.result ?? '').slice(0, 120)}` : 'none'}; exit ${r.code}`);
    t.not(r.code, null);
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
});
