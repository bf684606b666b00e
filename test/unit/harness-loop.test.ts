import test, { type ExecutionContext } from 'ava';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HarnessIO, Message, TurnReport } from '../../controller/harness/io.ts';
import type { TurnEventsBody } from '../../controller/transcripts/types.ts';
import { runHarness, type HarnessOptions } from '../../controller/harness/loop.ts';
import { readSessionId, writeSessionId } from '../../controller/harness/session.ts';
import { waitFor } from '../helpers/wait.ts';

const FAKE = fileURLToPath(new URL('../helpers/fake-claude.mjs', import.meta.url));
const FIX = (name: string) => fileURLToPath(new URL(`../fixtures/stream/${name}`, import.meta.url));
const REAL_CLAUDE = fileURLToPath(new URL('../../node_modules/.bin/claude', import.meta.url));

/** The HarnessIO interface, in memory: an inbox the test fills, live values it changes, reports it reads. */
class MemoryIO implements HarnessIO {
  inbox: Message[] = [];
  reports: TurnReport[] = [];
  live = { model: 'sonnet', notes: 'NOTES-1' };
  recvCalls = 0;
  liveReads = 0;
  private wake: (() => void) | undefined;
  private nextId = 1;
  constructor(readonly configDir: string) {}
  push(body: string, from = 'operator'): void {
    this.inbox.push({ id: this.nextId++, from, to: 'alice', kind: 'message', body, createdAt: new Date().toISOString() });
    this.wake?.();
  }
  async recv(waitSeconds: number): Promise<Message[]> {
    this.recvCalls++;
    if (!this.inbox.length) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, waitSeconds * 1000);
        this.wake = () => { clearTimeout(t); resolve(); };
      });
      this.wake = undefined;
    }
    return this.inbox.splice(0);
  }
  async readLive() { this.liveReads++; return { ...this.live }; }
  async readConfig() { return { configDir: this.configDir, prompt: 'PROMPT-MD' }; }
  async reportTurn(r: TurnReport) { this.reports.push(r); }
  postTurnEvents?: (body: TurnEventsBody) => Promise<void>;
}

interface Call { n: number; pid: number; prompt: string; model: string; resume: string | null; allowedTools: string[]; disallowedTools: string[]; systemPrompt: string; mcpConfig: any; env: Record<string, string | null>; problems: string[] }

async function setup(t: ExecutionContext, plan: { turns: object[]; expect?: object }) {
  const root = await mkdtemp(path.join(tmpdir(), 'hh-loop-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const configDir = path.join(root, 'config');
  const stateDir = path.join(root, 'state');
  await mkdir(configDir);
  await writeFile(path.join(configDir, 'hyperhive.json'), JSON.stringify({
    tools: { allow: ['Read', 'Bash(git *)', 'mcp__hyperhive__*'], deny: ['WebFetch'] },
    mcpServers: { github: { command: 'github-mcp-server', args: ['stdio'] } },
    env: { SURFACE_ENV: 'from-surface' },
  }));
  const log = path.join(root, 'calls.jsonl');
  const planFile = path.join(root, 'plan.json');
  await writeFile(planFile, JSON.stringify({ ...plan, log }));
  const io = new MemoryIO(configDir);
  const lines: string[] = [];
  const ac = new AbortController();
  t.teardown(() => ac.abort());
  const opts: HarnessOptions = {
    agent: 'alice', url: 'http://127.0.0.1:9', token: async () => 'secret-token', stateDir,
    cli: FAKE, env: { PATH: process.env.PATH, FAKE_CLAUDE_PLAN: planFile },
    recvWaitSeconds: 1, hangMs: 60_000, backoff: { initialMs: 20, maxMs: 1000, factor: 2 },
    signal: ac.signal, log: (l) => lines.push(l),
  };
  const calls = async (): Promise<Call[]> =>
    existsSync(log) ? (await readFile(log, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
  return { io, opts, calls, lines, ac, stateDir, configDir };
}

test('ok turn: exact argv, surface applied, report figures, session saved', async (t) => {
  const s = await setup(t, {
    turns: [{ fixture: FIX('ok-tool-calls.jsonl') }],
    expect: {
      model: 'sonnet', resume: null, allowedTools: ['Read', 'Bash(git *)', 'mcp__hyperhive__*'], disallowedTools: ['WebFetch'],
      promptIncludes: 'please review', systemPromptIncludes: 'NOTES-1', mcpServers: ['hyperhive', 'github'],
    },
  });
  s.io.push('please review');
  const sum = await runHarness(s.io, { ...s.opts, maxTurns: 1 });
  t.is(sum.turns, 1);
  const [r] = s.io.reports;
  t.is(r.class, 'ok', r.error);
  t.deepEqual(r.tools, { mcp__hyperhive__send: 3, Bash: 1, Read: 1, mcp__hyperhive__write_notes: 1 });
  t.deepEqual(r.sentTo, { peer: 1, operator: 1, manager: 1, system: 0 });
  t.is(r.costUsd, 0.0421);
  t.is(r.numTurns, 4);
  t.is(r.permissionDenials, 1);
  t.is(r.model, 'sonnet');
  t.is(r.sessionId, 'fake-session-1');
  t.is(r.messages, 1);
  t.is(r.error, undefined);
  t.is(await readSessionId(s.stateDir), 'fake-session-1');
  const [call] = await s.calls();
  t.deepEqual(call.problems, []);
  t.regex(call.systemPrompt, /^PROMPT-MD\n\n# Your role: a hyperhive agent/);
  t.deepEqual(call.env, { MCP_CONNECTION_NONBLOCKING: '0', SURFACE_ENV: 'from-surface' });
  t.is(call.mcpConfig.mcpServers.hyperhive.headers.Authorization, 'Bearer secret-token');
  t.is((await stat(path.join(s.stateDir, 'mcp-config.json'))).mode & 0o777, 0o600);
  t.false(s.lines.some((l) => l.includes('secret-token')), 'the token is never logged');
});

test('model and notes are read at every turn; the next turn resumes the saved session', async (t) => {
  const s = await setup(t, { turns: [{ fixture: FIX('ok-tool-calls.jsonl') }] });
  s.io.push('first');
  const run = runHarness(s.io, { ...s.opts, maxTurns: 2 });
  await waitFor('first report', () => s.io.reports.length === 1);
  s.io.live = { model: 'opus', notes: 'NOTES-2' };
  s.io.push('second');
  await run;
  const calls = await s.calls();
  t.deepEqual(calls.map((c) => [c.model, c.resume]), [['sonnet', null], ['opus', 'fake-session-1']]);
  t.regex(calls[1].systemPrompt, /NOTES-2/);
  t.regex(calls[1].prompt, /second/);
  t.notRegex(calls[1].prompt, /first/);
  t.deepEqual(s.io.reports.map((r) => r.model), ['sonnet', 'opus']);
  t.true(s.io.liveReads >= 2);
});

test('context overflow → one retry in a fresh session seeded from the notes', async (t) => {
  const s = await setup(t, { turns: [{ fixture: FIX('prompt-too-long.jsonl') }, { fixture: FIX('ok-tool-calls.jsonl') }] });
  await writeSessionId(s.stateDir, 'old-session');
  s.io.push('big job');
  await runHarness(s.io, { ...s.opts, maxTurns: 2 });
  t.deepEqual(s.io.reports.map((r) => r.class), ['context-overflow', 'ok']);
  t.regex(s.io.reports[0].error!, /prompt_too_long/);
  const calls = await s.calls();
  t.deepEqual(calls.map((c) => c.resume), ['old-session', null]);
  t.regex(calls[1].prompt, /^Your previous conversation grew too long/);
  t.regex(calls[1].prompt, /big job/);
  t.regex(calls[1].systemPrompt, /NOTES-1/);
  t.is(await readSessionId(s.stateDir), 'fake-session-2');
});

test('context overflow in the fresh session too → no further retry, the messages are dropped', async (t) => {
  const s = await setup(t, { turns: [{ fixture: FIX('prompt-too-long.jsonl') }, { fixture: FIX('blocking-limit.jsonl') }, { fixture: FIX('ok-tool-calls.jsonl') }] });
  s.io.push('huge');
  const run = runHarness(s.io, { ...s.opts, maxTurns: 3 });
  await waitFor('two reports and a wait on recv', () => s.io.reports.length === 2 && s.io.recvCalls >= 2);
  t.is((await s.calls()).length, 2);
  s.io.push('small');
  await run;
  t.deepEqual(s.io.reports.map((r) => r.class), ['context-overflow', 'context-overflow', 'ok']);
  const third = (await s.calls())[2];
  t.regex(third.prompt, /small/);
  t.notRegex(third.prompt, /huge/);
});

test('auth failure → no retry; a new message runs the old ones with it', async (t) => {
  const s = await setup(t, { turns: [{ fixture: FIX('real-not-logged-in.jsonl') }, { fixture: FIX('ok-tool-calls.jsonl') }] });
  s.io.push('hello');
  const run = runHarness(s.io, { ...s.opts, maxTurns: 2 });
  // Several recv rounds pass with nothing new: still one CLI call.
  await waitFor('the loop waiting for new messages', () => s.io.reports.length === 1 && s.io.recvCalls >= 3);
  t.is((await s.calls()).length, 1);
  t.is(s.io.reports[0].class, 'auth');
  t.regex(s.io.reports[0].error!, /Not logged in/);
  s.io.push('are you there?');
  await run;
  const calls = await s.calls();
  t.is(calls.length, 2);
  t.regex(calls[1].prompt, /You have 2 new messages/);
  t.regex(calls[1].prompt, /hello[\s\S]*are you there\?/);
  t.deepEqual(s.io.reports.map((r) => r.class), ['auth', 'ok']);
});

test('failures → the same messages retried with exponential backoff', async (t) => {
  const s = await setup(t, { turns: [{ fixture: FIX('api-error.jsonl') }, { fixture: FIX('early-exit.jsonl'), mode: 'early-exit', exit: 0 }, { fixture: FIX('garbage-lines.jsonl') }] });
  s.io.push('do it');
  await runHarness(s.io, { ...s.opts, maxTurns: 3 });
  t.deepEqual(s.io.reports.map((r) => r.class), ['failure', 'failure', 'ok']);
  t.regex(s.io.reports[0].error!, /529/);
  t.regex(s.io.reports[1].error!, /exited with 0 without a result/);
  t.is(s.io.reports[1].exitCode, 0);
  t.deepEqual(s.io.reports[1].sentTo, { peer: 0, operator: 1, manager: 0, system: 0 });
  t.true((await s.calls()).every((c) => c.prompt.includes('do it')));
  t.is(s.io.recvCalls, 1, 'retries do not take new messages off the bus');
  t.true(s.lines.includes('turn: failure; retrying in 20 ms'));
  t.true(s.lines.includes('turn: failure; retrying in 40 ms'));
  t.true(s.lines.some((l) => /6 line\(s\) of the CLI's output were not stream-json/.test(l)));
});

test('hung: no output for hangMs → killed (with its process group), reported, retried', async (t) => {
  const s = await setup(t, { turns: [{ fixture: FIX('hang.jsonl'), mode: 'hang' }, { fixture: FIX('ok-tool-calls.jsonl') }] });
  s.io.push('slow');
  await runHarness(s.io, { ...s.opts, hangMs: 3000, killGraceMs: 500, maxTurns: 2 });
  t.deepEqual(s.io.reports.map((r) => r.class), ['hung', 'ok']);
  t.regex(s.io.reports[0].error!, /no output/);
  t.deepEqual(s.io.reports[0].tools, { Bash: 1 });
  const [hung] = await s.calls();
  t.throws(() => process.kill(hung.pid, 0), { code: 'ESRCH' });
});

test('a missing CLI is a failure naming it', async (t) => {
  const s = await setup(t, { turns: [] });
  s.io.push('x');
  await runHarness(s.io, { ...s.opts, cli: '/nonexistent/claude-cli', maxTurns: 1 });
  t.is(s.io.reports[0].class, 'failure');
  t.is(s.io.reports[0].error, 'agent CLI not found: /nonexistent/claude-cli');
  t.is(s.io.reports[0].exitCode, null);
});

test('a saved session the CLI no longer knows → a new session at once', async (t) => {
  const s = await setup(t, {
    turns: [
      { fixture: FIX('real-resume-not-found.jsonl'), stderr: await readFile(FIX('real-resume-not-found.stderr'), 'utf8'), sessionId: 'gone' },
      { fixture: FIX('ok-tool-calls.jsonl') },
    ],
  });
  await writeSessionId(s.stateDir, 'gone');
  s.io.push('x');
  await runHarness(s.io, { ...s.opts, maxTurns: 2 });
  t.deepEqual(s.io.reports.map((r) => r.class), ['failure', 'ok']);
  t.deepEqual((await s.calls()).map((c) => c.resume), ['gone', null]);
  t.false(s.lines.some((l) => /retrying in/.test(l)), 'no backoff for a lost session');
});

test('a config that does not evaluate is a failure with its error, the CLI is not run', async (t) => {
  const s = await setup(t, { turns: [{ fixture: FIX('ok-tool-calls.jsonl') }] });
  await writeFile(path.join(s.configDir, 'hyperhive.json'), '{"tools": 3}');
  s.io.push('x');
  await runHarness(s.io, { ...s.opts, evaluate: async (dir) => (await import('../../controller/harness/surface.ts')).evaluateSurface(dir, { nixInstantiate: null }), maxTurns: 1 });
  t.is(s.io.reports[0].class, 'failure');
  t.regex(s.io.reports[0].error!, /tools must be an object/);
  t.is((await s.calls()).length, 0);
});

test('the fake CLI refuses an argv that breaks the expectations', async (t) => {
  const s = await setup(t, { turns: [{ fixture: FIX('ok-tool-calls.jsonl') }], expect: { model: 'haiku' } });
  s.io.push('x');
  await runHarness(s.io, { ...s.opts, maxTurns: 1 });
  t.is(s.io.reports[0].class, 'failure');
  t.regex(s.io.reports[0].error!, /argv mismatch: model sonnet != haiku/);
});

const withClaude = existsSync(REAL_CLAUDE) ? test : test.skip;
withClaude('the real claude CLI without credentials: auth, and no retry loop', async (t) => {
  const s = await setup(t, { turns: [] });
  const home = path.join(s.stateDir, 'home');
  await mkdir(home, { recursive: true });
  s.io.push('hi');
  const run = runHarness(s.io, {
    ...s.opts, cli: REAL_CLAUDE, hangMs: 90_000,
    // Nothing of the host's credentials: a fresh HOME and no API key variables.
    env: { PATH: process.env.PATH, HOME: home },
  });
  await waitFor('the report and a wait for new messages', () => s.io.reports.length === 1 && s.io.recvCalls >= 3);
  s.ac.abort();
  await run;
  t.is(s.io.reports.length, 1);
  const [r] = s.io.reports;
  t.is(r.class, 'auth');
  t.regex(r.error!, /Not logged in/);
  t.is(r.model, 'sonnet');
  t.truthy(r.sessionId);
});

test('the turn in progress is streamed as it happens: prompt, the stream-json events, then the report names the transcript', async (t) => {
  const s = await setup(t, { turns: [{ fixture: FIX('ok-tool-calls.jsonl') }] });
  const posted: { body: TurnEventsBody; reportsSoFar: number }[] = [];
  s.io.postTurnEvents = async (body) => { posted.push({ body, reportsSoFar: s.io.reports.length }); };
  s.io.push('please review');
  await runHarness(s.io, { ...s.opts, maxTurns: 1 });
  const [r] = s.io.reports;
  const events = posted.flatMap((p) => p.body.events);
  t.true(posted.length >= 1);
  t.true(posted.every((p) => p.reportsSoFar === 0), 'every event is posted before the report');
  t.true(posted.every((p) => p.body.turn === r!.transcript), 'the report names the streamed turn');
  t.is(events[0]!.kind, 'prompt');
  t.regex((events[0] as { text: string }).text, /please review/);
  t.deepEqual(events.slice(1).map((e) => e.kind).filter((k, i, a) => a.indexOf(k) === i), ['init', 'text', 'tool_use', 'tool_result', 'result']);
  t.false(JSON.stringify(posted).includes('secret-token'), 'the token never rides in a transcript');
});

test('a failed turn streams its reason as an error event', async (t) => {
  const s = await setup(t, { turns: [{ fixture: FIX('api-error.jsonl') }] });
  const events: TurnEventsBody['events'] = [];
  s.io.postTurnEvents = async (body) => { events.push(...body.events); };
  s.io.push('x');
  await runHarness(s.io, { ...s.opts, maxTurns: 1 });
  t.not(s.io.reports[0]!.class, 'ok');
  t.regex((events.at(-1) as { message: string }).message, new RegExp(`^turn ${s.io.reports[0]!.class}: `));
});
