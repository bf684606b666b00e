import test from 'ava';
import { readFileSync } from 'node:fs';
import { classifyTurn, type TurnClass, type TurnOutcome } from '../../controller/harness/classify.ts';
import { parseStream } from '../../controller/harness/stream.ts';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/stream/${name}`, import.meta.url), 'utf8');

const table: [string, Omit<TurnOutcome, 'stream'> & { fixture: string }, TurnClass, RegExp?][] = [
  ['ok turn', { fixture: 'ok-tool-calls.jsonl', exitCode: 0, killedForSilence: false }, 'ok'],
  ['ok result but exit code 1: the result decides', { fixture: 'ok-tool-calls.jsonl', exitCode: 1, killedForSilence: false }, 'ok'],
  ['garbage around an ok result', { fixture: 'garbage-lines.jsonl', exitCode: 0, killedForSilence: false }, 'ok'],
  ['real: not logged in', { fixture: 'real-not-logged-in.jsonl', exitCode: 1, killedForSilence: false }, 'auth', /Not logged in/],
  ['real: not logged in, MCP failed', { fixture: 'real-not-logged-in-mcp-failed.jsonl', exitCode: 1, killedForSilence: false }, 'auth'],
  ['not logged in even with exit code 0', { fixture: 'real-not-logged-in.jsonl', exitCode: 0, killedForSilence: false }, 'auth'],
  ['prompt too long', { fixture: 'prompt-too-long.jsonl', exitCode: 1, killedForSilence: false }, 'context-overflow', /prompt_too_long/],
  ['blocking limit', { fixture: 'blocking-limit.jsonl', exitCode: 1, killedForSilence: false }, 'context-overflow', /blocking_limit/],
  ['API error 529', { fixture: 'api-error.jsonl', exitCode: 1, killedForSilence: false }, 'failure', /529/],
  ['real: resume of an unknown session', { fixture: 'real-resume-not-found.jsonl', exitCode: 1, killedForSilence: false }, 'failure', /No conversation found/],
  ['early exit with 0 and no result', { fixture: 'early-exit.jsonl', exitCode: 0, killedForSilence: false }, 'failure', /exited with 0 without a result/],
  ['early exit with 1, stderr tail kept', { fixture: 'early-exit.jsonl', exitCode: 1, killedForSilence: false, stderr: 'boom\nTypeError: x is undefined\n' }, 'failure', /TypeError/],
  ['killed by a signal', { fixture: 'early-exit.jsonl', exitCode: null, killedForSilence: false }, 'failure', /was killed/],
  ['silent, killed', { fixture: 'hang.jsonl', exitCode: null, killedForSilence: true }, 'hung'],
  ['silent after an ok result: the work was done', { fixture: 'ok-tool-calls.jsonl', exitCode: null, killedForSilence: true }, 'ok'],
  ['no output at all, stderr says not logged in', { fixture: 'empty', exitCode: 1, killedForSilence: false, stderr: 'Invalid API key · Fix external API key\n' }, 'auth'],
  ['no output at all, stderr says prompt too long', { fixture: 'empty', exitCode: 1, killedForSilence: false, stderr: 'Error: Prompt is too long\n' }, 'context-overflow'],
  ['CLI missing', { fixture: 'empty', exitCode: null, killedForSilence: false, spawnError: 'agent CLI not found: claude' }, 'failure', /not found: claude/],
];

for (const [name, o, expected, reason] of table) {
  test(`classify: ${name} → ${expected}`, (t) => {
    const stream = parseStream(o.fixture === 'empty' ? '' : fixture(o.fixture));
    const c = classifyTurn({ ...o, stream });
    t.is(c.class, expected);
    if (reason) t.regex(c.reason, reason);
  });
}

test('a successful turn that merely mentions the words is ok', (t) => {
  const stream = parseStream(JSON.stringify({ type: 'result', subtype: 'success', is_error: false, result: 'The user said "Prompt is too long" and "not logged in".' }));
  t.is(classifyTurn({ stream, exitCode: 0, killedForSilence: false }).class, 'ok');
});
