import test from 'ava';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { gitc, refOf } from '../helpers/git.ts';
import { CLI as BIN, tmpDir } from '../helpers/paths.ts';
import { startServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';

const GIT_ENV = { ...process.env, GIT_AUTHOR_NAME: 'op', GIT_AUTHOR_EMAIL: 'op@example.com', GIT_COMMITTER_NAME: 'op', GIT_COMMITTER_EMAIL: 'op@example.com', GIT_TERMINAL_PROMPT: '0' };
const run = (cmd: string, args: string[], cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((resolve) => execFile(cmd, args, { cwd, env: GIT_ENV, timeout: 120_000 }, (err, stdout, stderr) =>
    resolve({ code: err ? ((err as any).code ?? 1) : 0, stdout, stderr })));

test('hyperhive clone, edit, push over HTTP: the push prints the request, proposer is the operator', async (t) => {
  const s = await startServer();
  t.teardown(() => s.close());
  await s.api('POST', '/api/agents', { name: 'worker' });
  const dir = path.join(tmpDir('hh-op-'), 'w');
  const c = await run(process.execPath, [BIN, 'clone', 'worker', dir, '--state', s.state]);
  t.is(c.code, 0, c.stderr);
  t.false(fs.readFileSync(path.join(dir, '.git', 'config'), 'utf8').includes(s.token), 'no token in the clone config');
  fs.appendFileSync(path.join(dir, 'prompt.md'), '\nBe brief.\n');
  gitc(dir, 'commit', '-qam', 'be brief');
  const p = await run('git', ['push', 'origin', 'HEAD:proposed'], dir);
  t.is(p.code, 0, p.stderr);
  const m = /remote: hyperhive: request #(\d+) waits for approval: (\S+)/.exec(p.stderr);
  t.truthy(m, p.stderr);
  t.is(m![2], `${s.url}/approvals/${m![1]}`);
  const req = (await s.api('GET', `/api/approvals/${m![1]}`)).body;
  t.is(req.proposer, 'operator');
  t.is(req.status, 'pending');
});

test("an agent commits with plain git from its working clone; its token is never on disk in the clone", async (t) => {
  const s = await startServer({ agentClone: true });
  t.teardown(() => s.close());
  await s.api('POST', '/api/agents', { name: 'worker' });
  const clone = path.join(s.state, 'agents', 'worker', 'state', 'repo');
  await waitFor('working clone prepared', () => fs.existsSync(path.join(clone, '.git')), 60_000);
  const token = fs.readFileSync(path.join(s.state, 'agents', 'worker', 'token'), 'utf8').trim();
  const files = (d: string): string[] => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => e.isDirectory() ? files(path.join(d, e.name)) : [path.join(d, e.name)]);
  for (const f of files(path.join(clone, '.git'))) t.false(fs.readFileSync(f).includes(token), `token in ${f}`);
  fs.writeFileSync(path.join(clone, 'extra.md'), 'hello\n');
  gitc(clone, 'add', 'extra.md');
  gitc(clone, 'commit', '-qm', 'agent change');
  const p = await run('git', ['push'], clone);
  t.is(p.code, 0, p.stderr);
  const req = await waitFor('request', async () => ((await s.api('GET', '/api/approvals?status=pending&agent=worker')).body as any[])[0]);
  t.is(req.proposer, 'worker');
  gitc(clone, 'checkout', '-q', 'live');
  fs.writeFileSync(path.join(clone, 'notes.md'), '# notes\nlearned a thing\n');
  gitc(clone, 'commit', '-qam', 'notes');
  const live = await run('git', ['push'], clone);
  t.is(live.code, 0, live.stderr);
  t.is(gitc(path.join(s.state, 'repos', 'worker.git'), 'show', 'live:notes.md'), '# notes\nlearned a thing');
  // The answer is about what was pushed: live takes effect as written; the open request is another matter.
  const liveSha = gitc(clone, 'rev-parse', 'HEAD');
  t.regex(live.stderr, new RegExp(`remote: hyperhive: live is now ${liveSha.slice(0, 7)}: notes and model sonnet take effect at worker's next turn, without a restart or a request`));
  t.notRegex(live.stderr, /request #\d+ waits/);
  fs.writeFileSync(path.join(clone, 'model'), 'opus\n');
  gitc(clone, 'commit', '-qam', 'my own model');
  const refused = await run('git', ['push'], clone);
  t.not(refused.code, 0, 'an agent may not set its own model');
  t.regex(refused.stderr, /remote: .*model/);
});

test('20 concurrent pushers to one agent: each lands or is refused, and exactly one open request remains, for the final tip', async (t) => {
  const s = await startServer();
  t.teardown(() => s.close());
  await s.api('POST', '/api/agents', { name: 'worker' });
  const remote = `http://op:${s.token}@${s.url.replace(/^http:\/\//, '')}/git/worker.git`;
  const dirs = await Promise.all(Array.from({ length: 20 }, async (_, i) => {
    const d = tmpDir(`hh-p${i}-`);
    await run('git', ['clone', '-q', '-b', 'proposed', remote, d]);
    fs.writeFileSync(path.join(d, `f${i}.txt`), `${i}\n`);
    gitc(d, 'add', '.');
    gitc(d, 'commit', '-qm', `pusher ${i}`);
    return d;
  }));
  const results = await Promise.all(dirs.map((d) => run('git', ['push', 'origin', 'HEAD:proposed'], d)));
  const landed = results.filter((r) => r.code === 0);
  t.true(landed.length >= 1);
  for (const r of results.filter((r) => r.code !== 0)) t.regex(r.stderr, /rejected|non-fast-forward|fetch first|failed to update|stale|cannot lock/);
  const repo = path.join(s.state, 'repos', 'worker.git');
  const tip = refOf(repo, 'proposed');
  await s.core.reconciler.settled('worker');
  const open = await waitFor('one open request for the tip', async () => { const l = (await s.api('GET', '/api/approvals?status=pending,diverged&agent=worker')).body as any[]; return l.length === 1 && l[0].head === tip && l; }, 60_000);
  t.is(open.length, 1);
  t.notRegex(gitc(repo, 'fsck', '--no-progress', '--no-dangling'), /error|missing|broken/);
});
