import test from 'ava';
import { execFile } from 'node:child_process';
import { CLI } from '../helpers/paths.ts';
import { agentToken, createAgents, startServer } from '../helpers/server.ts';

const run = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout, stderr });
    });
  });

test('hyperhive turns: the list, one transcript as text, --json, refusals with their exit codes', async (t) => {
  const s = await startServer({ prefix: 'hh-cli-turns-' });
  t.teardown(() => s.close());
  await createAgents(s, ['alice']);
  const auth = { authorization: `Bearer ${agentToken(s.state, 'alice')}` };
  const at = Date.now();
  t.is((await s.api('POST', '/api/agents/alice/turns/events', { turn: 'k1', startedAt: new Date(at).toISOString(), events: [
    { kind: 'text', at, text: 'Checking the tree.' },
    { kind: 'tool_use', at, id: 't1', name: 'Bash', input: { command: 'git status --short' } },
    { kind: 'tool_result', at, toolUseId: 't1', isError: false, content: ' M src/app.ts' },
  ] }, auth)).status, 201);
  const rep = await s.api('POST', '/api/agents/alice/turns', {
    class: 'ok', startedAt: new Date(at).toISOString(), durationMs: 2500, tools: { Bash: 1 }, costUsd: 0.0125, numTurns: 1, permissionDenials: 0, model: 'sonnet',
    usage: { inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheCreationTokens: 0 }, sentTo: { peer: 0, operator: 0, manager: 0, system: 0 }, transcript: 'k1',
  }, auth);
  const id = rep.body.turn as number;
  const S = ['--state', s.state, '--url', s.url];

  const list = await run(['turns', 'alice', ...S]);
  t.is(list.code, 0, list.stderr);
  t.regex(list.stdout, /^TURN\s+ENDED\s+CLASS\s+DURATION\s+COST\s+MODEL\s+TOOLS\s+EVENTS/);
  t.regex(list.stdout, new RegExp(`#${id}\\s+\\S+\\s+ok\\s+2\\.5s\\s+\\$0\\.0125\\s+sonnet\\s+1\\s+3`));
  const json = JSON.parse((await run(['turns', 'alice', '--json', '--limit', '5', ...S])).stdout);
  t.like(json[0], { id, class: 'ok', events: 3 });

  const one = await run(['turns', 'alice', String(id), ...S]);
  t.is(one.code, 0, one.stderr);
  t.regex(one.stdout, new RegExp(`^turn #${id} of alice: ok, 2\\.5s, \\$0\\.0125, model sonnet, 3 event\\(s\\)`));
  t.regex(one.stdout, /assistant: Checking the tree\./);
  t.regex(one.stdout, /tool Bash: \$ git status --short/);
  t.regex(one.stdout, /result:  M src\/app\.ts/);
  t.is(JSON.parse((await run(['turns', 'alice', String(id), '--json', ...S])).stdout).transcript.length, 3);

  const missing = await run(['turns', 'alice', '999', ...S]);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /alice has no turn 999/);
  t.is((await run(['turns', 'nobody', ...S])).code, 1);
  const bad = await run(['turns', 'alice', '0x1', ...S]);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /ID must be a turn number/);
  const help = await run(['turns', '--help']);
  t.is(help.code, 0);
  t.regex(help.stdout, /usage: hyperhive turns NAME \[ID\] \[--limit N\] \[--json\]/);
});
