import test from 'ava';
import { mkdtemp, readFile, stat, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildTurnArgv, turnInput } from '../../controller/harness/argv.ts';
import { buildMcpConfig, writeMcpConfig } from '../../controller/harness/mcp-config.ts';
import { composeSystemPrompt, composeTurnPrompt } from '../../controller/harness/prompt.ts';
import { validateHyperhiveJson } from '../../controller/surface/hyperhive-json.ts';

test('argv for a resumed turn, exactly', (t) => {
  const argv = buildTurnArgv({
    prompt: 'You have 1 new message.', model: 'sonnet', mcpConfigFile: '/s/mcp-config.json', systemPrompt: 'SYS',
    allow: ['Bash(git *)', 'Edit'], deny: ['WebFetch'], resume: 'abc-123',
  });
  t.deepEqual(argv, [
    '-p', '--input-format', 'stream-json', '--output-format', 'stream-json', '--verbose', '--permission-prompt-tool', 'stdio', '--model', 'sonnet',
    '--mcp-config', '/s/mcp-config.json', '--strict-mcp-config', '--append-system-prompt', 'SYS',
    '--allowedTools', 'Bash(git *)', 'Edit', '--disallowedTools', 'WebFetch', '--resume', 'abc-123',
  ]);
  t.false(argv.includes('You have 1 new message.'), 'the prompt goes on stdin');
});

test('the prompt is one stream-json user message on stdin', (t) => {
  const line = turnInput('You have 1 new message.\nhi');
  t.true(line.endsWith('\n'));
  t.is(line.split('\n').length, 2, 'one line');
  t.deepEqual(JSON.parse(line), { type: 'user', message: { role: 'user', content: 'You have 1 new message.\nhi' } });
});

test('argv leaves out empty tool lists and --resume for a new session', (t) => {
  const argv = buildTurnArgv({ prompt: 'hi', model: 'opus', mcpConfigFile: 'f', systemPrompt: '', allow: [], deny: [] });
  t.deepEqual(argv, ['-p', '--input-format', 'stream-json', '--output-format', 'stream-json', '--verbose', '--permission-prompt-tool', 'stdio', '--model', 'opus', '--mcp-config', 'f', '--strict-mcp-config', '--append-system-prompt', '']);
});

test('a prompt starting with "-" is refused', (t) => {
  t.throws(() => buildTurnArgv({ prompt: '--help', model: 'x', mcpConfigFile: 'f', systemPrompt: '', allow: [], deny: [] }), { message: /must not start with "-"/ });
});

test('mcp-config: hyperhive over HTTP with the token, then the extra servers as stdio', (t) => {
  const surface = validateHyperhiveJson({ mcpServers: { github: { command: 'gh-mcp', args: ['stdio'], env: { GH_HOST: 'github.com' } } } });
  t.deepEqual(buildMcpConfig({ url: 'http://10.0.0.1:8000/', token: 'tok', surface }), {
    mcpServers: {
      hyperhive: { type: 'http', url: 'http://10.0.0.1:8000/mcp', headers: { Authorization: 'Bearer tok' } },
      github: { type: 'stdio', command: 'gh-mcp', args: ['stdio'], env: { GH_HOST: 'github.com' } },
    },
  });
});

test('mcp-config file is written 0600 and replaced whole', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hh-mcp-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const surface = validateHyperhiveJson({});
  const f1 = await writeMcpConfig(dir, buildMcpConfig({ url: 'http://h', token: 'one', surface }));
  const f2 = await writeMcpConfig(dir, buildMcpConfig({ url: 'http://h', token: 'two', surface }));
  t.is(f1, f2);
  t.is((await stat(f2)).mode & 0o777, 0o600);
  t.is(JSON.parse(await readFile(f2, 'utf8')).mcpServers.hyperhive.headers.Authorization, 'Bearer two');
});

test('turn prompt lists the messages and never starts with "-"', (t) => {
  const p = composeTurnPrompt([{ id: 7, from: 'operator', to: 'alice', kind: 'message', body: '-rf please', createdAt: '2026-01-01T00:00:00Z' }]);
  t.false(p.startsWith('-'));
  t.regex(p, /You have 1 new message\./);
  t.regex(p, /message 7 from operator at 2026-01-01T00:00:00Z ---\n-rf please/);
  t.regex(composeTurnPrompt([], { freshSession: true }), /^Your previous conversation grew too long/);
});

test('system prompt: prompt.md, role, name, notes in that order', (t) => {
  const s = composeSystemPrompt({ agent: 'alice', prompt: 'You review PRs.', role: 'ROLE', notes: '- remember X' });
  t.true(s.indexOf('You review PRs.') < s.indexOf('ROLE'));
  t.true(s.indexOf('ROLE') < s.indexOf('`alice`'));
  t.regex(s, /## Your notes[^\n]*\n\n- remember X\n$/);
});
