import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main, type IO } from '../../controller/cli.ts';

// The parse step only: every case either stops at usage (exit 2) or gets past parsing to the client,
// which refuses (exit 1) for want of an operator token in an empty state dir. No server runs.
const cli = async (...argv: string[]): Promise<{ code: number; out: string; err: string }> => {
  const out: string[] = [];
  const err: string[] = [];
  const io: IO = { out: (s) => out.push(s), err: (s) => err.push(s) };
  return { code: await main(argv, io), out: out.join('\n'), err: err.join('\n') };
};
const empty = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'hh-cli-args-'));

test('an unknown option is bad usage (exit 2), named, with the usage line', async (t) => {
  const r = await cli('agents', '--bogus');
  t.is(r.code, 2);
  t.regex(r.err, /^hyperhive agents: unknown option --bogus\b/m);
  t.regex(r.err, /^usage: hyperhive agents \[--state S\] .*\[--all\] \[--json\]$/m);
  t.is(r.out, '');
  const short = await cli('approvals', '-x');
  t.is(short.code, 2);
  t.regex(short.err, /unknown option -x\b/);
  // An option another command takes is still unknown here.
  t.regex((await cli('agents', '--listen', 'x')).err, /unknown option --listen\b/);
});

test('a string option without a value needs one; a boolean one takes none', async (t) => {
  const last = await cli('serve', '--listen');
  t.is(last.code, 2);
  t.regex(last.err, /^hyperhive serve: --listen needs a value$/m);
  const dashed = await cli('serve', '--listen', '--demo');
  t.is(dashed.code, 2);
  t.regex(dashed.err, /--listen needs a value \(got "--demo"; write --listen=--demo if that is the value\)/);
  const json = await cli('agents', '--json=yes');
  t.is(json.code, 2);
  t.regex(json.err, /^hyperhive agents: --json takes no value$/m);
});

test('--flag=value and --flag value both reach the command', async (t) => {
  for (const argv of [['--runtime=docker'], ['--runtime', 'docker']]) {
    const r = await cli('serve', ...argv);
    t.is(r.code, 2, argv.join(' '));
    t.regex(r.err, /--runtime must be process or nspawn, got docker/);
  }
  const state = empty();
  for (const argv of [[`--state=${state}`], ['--state', state]]) {
    const r = await cli('agents', ...argv);
    t.is(r.code, 1, 'parsed, then refused by the client');
    t.true(r.err.includes(`no operator token at ${path.join(state, 'operator.token')}`), r.err);
  }
});

test('after -- every argument is positional, dashes and all', async (t) => {
  const r = await cli('agents', '--', '--bogus');
  t.is(r.code, 2);
  t.regex(r.err, /expected 0 argument\(s\), got 1/, 'counted as an argument, not an unknown option');
  const state = empty();
  const ok = await cli('reject', '--reason', 'no', '--state', state, '--', '-7');
  t.is(ok.code, 1, 'past parsing: one argument, as reject takes');
  t.regex(ok.err, /no operator token/);
});

test('-h and --help print the command help (exit 0) before positional counts are checked', async (t) => {
  for (const flag of ['-h', '--help']) {
    const r = await cli('serve', flag);
    t.is(r.code, 0, flag);
    t.regex(r.out, /^usage: hyperhive serve \[--state DIR\] \[--listen 127\.0\.0\.1:8000\]/);
    t.regex(r.out, /--demo creates a manager and one sub-agent if absent/);
    t.is(r.err, '');
  }
  const create = await cli('agent', 'create', '-h');
  t.is(create.code, 0);
  t.regex(create.out, /^usage: hyperhive agent create NAME\n\ncreate an agent \(active at once\) from the templates\.$/);
  t.is((await cli('mcp-stdio', '--help')).code, 0);
  t.is((await cli('harness', '-h')).code, 0);
  t.regex((await cli('-h')).out, /^usage: hyperhive <command> \[options\]/);
});

test('positional counts and unknown commands stay usage errors', async (t) => {
  const few = await cli('model', 'alpha');
  t.is(few.code, 2);
  t.regex(few.err, /^hyperhive model: expected 2 argument\(s\), got 1$/m);
  const many = await cli('clone', 'a', 'b', 'c');
  t.is(many.code, 2);
  t.regex(many.err, /expected 1 to 2 argument\(s\), got 3/);
  const unknown = await cli('frobnicate');
  t.is(unknown.code, 2);
  t.regex(unknown.err, /unknown command "frobnicate"/);
  t.is((await cli()).code, 2, 'no command at all');
});
