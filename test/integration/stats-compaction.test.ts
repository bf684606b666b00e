import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { commitFiles } from '../../repos/commit.ts';
import { identityFor } from '../../repos/identity.ts';
import { gitc, refOf } from '../helpers/git.ts';
import { CLI, tmpDir } from '../helpers/paths.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';

const BIG = Array.from({ length: 120 }, (_, i) => `- item ${i}: something the agent once noted, now long finished and superseded\n`).join('');
const SHORT = '# Notes\n- open: task 42 (waiting for bob)';

async function writeNotes(s: TestServer, agent: string, notes: string): Promise<string> {
  const repo = s.core.paths.repo(agent);
  return commitFiles(repo, { branch: 'live', files: { 'notes.md': notes }, message: 'notes', author: identityFor(agent), expectedOld: refOf(repo, 'live')!, pusher: agent });
}

async function reportTurn(s: TestServer, agent: string): Promise<void> {
  const r = await s.api('POST', `/api/agents/${agent}/turns`, {
    class: 'ok', startedAt: new Date().toISOString(), durationMs: 10, tools: {}, costUsd: 0, numTurns: 1, permissionDenials: 0, model: 'sonnet',
    usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheCreationTokens: 0 }, sentTo: { peer: 0, operator: 0, manager: 0, system: 0 },
  });
  if (r.status !== 201) throw new Error(JSON.stringify(r.body));
}

const events = async (s: TestServer, agent: string) => ((await s.api('GET', `/api/log?agent=${agent}`)).body as { event: string; message: string }[]);

test('notes.md over the threshold is compacted by a scripted agent session and committed on live as system', async (t) => {
  const dir = tmpDir('hh-compact-');
  const script = path.join(dir, 'script.json');
  fs.writeFileSync(script, JSON.stringify([{ reply: SHORT }]));
  const s = await startServer({ stats: { compaction: { thresholdBytes: 1024, command: [process.execPath, CLI, 'scripted-agent'], env: { ...process.env, HYPERHIVE_SCRIPT: script }, retryMs: 60_000 } } });
  t.teardown(async () => { await s.close(); fs.rmSync(dir, { recursive: true, force: true }); });
  t.is((await s.api('POST', '/api/agents', { name: 'alice' })).status, 201);
  const repo = s.core.paths.repo('alice');
  const big = await writeNotes(s, 'alice', BIG);
  await reportTurn(s, 'alice');
  const tip = await waitFor('live to move past the big notes', () => { const l = refOf(repo, 'live'); return l !== big ? l : null; }, 60_000);
  t.is(gitc(repo, 'show', `${tip}:notes.md`), SHORT);
  t.is(gitc(repo, 'log', '-1', '--format=%an <%ae>', tip), 'system <system@hyperhive.local>');
  t.regex(gitc(repo, 'log', '-1', '--format=%s', tip), new RegExp(`^Compact notes.md \\(${Buffer.byteLength(BIG)} → ${SHORT.length + 1} bytes\\)$`));
  t.is(gitc(repo, 'rev-parse', `${tip}^`), big, 'on top of the notes it compacted: live history keeps the old notes');
  await waitFor('compacted log line', async () => (await events(s, 'alice')).some((e) => e.event === 'compacted'));
  const audit = (await s.api('GET', '/api/audit?agent=alice')).body as { actor: string; action: string; head: string }[];
  t.true(audit.some((a) => a.actor === 'system' && a.action === 'compact-notes' && a.head === tip));
  const n = await waitFor('compactions series', async () => (await s.api('GET', '/api/stats?agent=alice&key=compactions')).body.points.length);
  t.is(n, 1);
  // Small notes now: another turn compacts nothing. The turn report answers once the notes were sized
  // and the compactor asked (notes_bytes recorded, then the under-threshold decision, in one step).
  const second = Date.now();
  await reportTurn(s, 'alice');
  const sized = await waitFor('the short notes sized after the second turn', async () => ((await s.api('GET', `/api/stats?agent=alice&key=notes_bytes&since=${second}`)).body.points as number[][]).find((p) => p[1] === SHORT.length + 1));
  t.true(sized[1]! <= 1024);
  t.is(refOf(repo, 'live'), tip);
  t.is((await events(s, 'alice')).filter((e) => e.event === 'compaction-started').length, 1, 'no second compaction started');
});

test('live moving during a compaction: nothing is overwritten, and it is tried again on the new notes', async (t) => {
  const dir = tmpDir('hh-compact-slow-');
  // A tiny deterministic compactor: the first run waits until the test has moved live under it (the
  // \`go\` file), every run keeps the first line.
  const cli = path.join(dir, 'compact.mjs');
  const go = path.join(dir, 'go');
  fs.writeFileSync(cli, `import fs from 'node:fs';
const flag = 'waited';
if (!fs.existsSync(flag)) {
  fs.writeFileSync(flag, '1');
  for (let i = 0; i < 1200 && !fs.existsSync(${JSON.stringify(go)}); i++) await new Promise((r) => setTimeout(r, 50));
}
const prompt = process.argv[process.argv.indexOf('-p') + 1];
const notes = prompt.slice(prompt.indexOf('--- notes.md ---') + 17);
const out = 'compacted from: ' + notes.split('\\n')[0];
console.log(JSON.stringify({ type: 'system', subtype: 'init', session_id: 's', tools: [], mcp_servers: [] }));
console.log(JSON.stringify({ type: 'result', subtype: 'success', is_error: false, result: out, session_id: 's', total_cost_usd: 0, num_turns: 1, duration_ms: 1, usage: {} }));
`);
  const s = await startServer({ stats: { compaction: { thresholdBytes: 1024, command: [process.execPath, cli], retryMs: 300 } } });
  t.teardown(async () => { await s.close(); fs.rmSync(dir, { recursive: true, force: true }); });
  t.is((await s.api('POST', '/api/agents', { name: 'bob' })).status, 201);
  const repo = s.core.paths.repo('bob');
  await writeNotes(s, 'bob', `first version\n${BIG}`);
  await reportTurn(s, 'bob');
  await waitFor('compaction to start', async () => (await events(s, 'bob')).some((e) => e.event === 'compaction-started'), 60_000);
  const moved = await writeNotes(s, 'bob', `second version\n${BIG}`);
  fs.writeFileSync(go, '1');
  await waitFor('the compaction to notice live moved', async () => (await events(s, 'bob')).some((e) => e.event === 'compaction-deferred'), 60_000);
  t.is(refOf(repo, 'live'), moved, 'the agent\'s newer notes are not overwritten');
  const tip = await waitFor('the retry to commit', () => { const l = refOf(repo, 'live'); return l !== moved ? l : null; }, 60_000);
  t.is(gitc(repo, 'show', `${tip}:notes.md`), 'compacted from: second version');
  t.is(gitc(repo, 'rev-parse', `${tip}^`), moved);
});

test('a compaction that fails or does not shrink the notes changes nothing and says why', async (t) => {
  const dir = tmpDir('hh-compact-bad-');
  const script = path.join(dir, 'script.json');
  fs.writeFileSync(script, JSON.stringify([{ reply: `${BIG}${BIG}` }]));
  const s = await startServer({ stats: { compaction: { thresholdBytes: 1024, command: [process.execPath, CLI, 'scripted-agent'], env: { ...process.env, HYPERHIVE_SCRIPT: script }, retryMs: 60_000 } } });
  t.teardown(async () => { await s.close(); fs.rmSync(dir, { recursive: true, force: true }); });
  t.is((await s.api('POST', '/api/agents', { name: 'carol' })).status, 201);
  const big = await writeNotes(s, 'carol', BIG);
  await reportTurn(s, 'carol');
  const failed = await waitFor('compaction-failed', async () => (await events(s, 'carol')).find((e) => e.event === 'compaction-failed'), 60_000);
  t.regex(failed.message, /are not smaller than the notes/);
  t.is(refOf(s.core.paths.repo('carol'), 'live'), big);
});
