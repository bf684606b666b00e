import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { git, gitEnv, useGitRunner } from '../../repos/git.ts';
import { GitRunner } from '../../repos/git-runner.ts';
import { repoFixture } from '../helpers/repos.ts';

// git() through the shell workers must answer exactly as a direct spawn does.
const fixture = repoFixture('git-runner');
test.after.always(() => { useGitRunner(false); fixture.cleanup(); });

async function both<T>(fn: () => Promise<T>): Promise<[T, T]> {
  useGitRunner(false);
  const direct = await fn();
  useGitRunner(true);
  try { return [direct, await fn()]; } finally { useGitRunner(false); }
}
const errOf = (p: Promise<unknown>) => p.then(() => null, (e: { code?: string; message: string; data?: { code?: number } }) => ({ code: e.code, message: e.message, exit: e.data?.code }));

test.serial('same stdout (binary too), stderr, exit codes and errors as a direct spawn', async (t) => {
  const { repo, roots } = await fixture.make();
  const [a, b] = await both(() => git(['cat-file', 'commit', roots.config], { repo }));
  t.deepEqual(b.stdout, a.stdout);
  t.is(b.code, 0);
  const tree = (await git(['rev-parse', `${roots.config}^{tree}`], { repo })).stdout.toString().trim();
  const [ta, tb] = await both(() => git(['cat-file', 'tree', tree], { repo }));
  t.deepEqual(tb.stdout, ta.stdout, 'binary tree object byte for byte');
  const [fa, fb] = await both(() => git(['rev-parse', '--verify', '--quiet', 'no-such-ref'], { repo, allowFail: true }));
  t.is(fb.code, fa.code);
  t.not(fb.code, 0);
  const [ea, eb] = await both(() => errOf(git(['cat-file', 'commit', 'f'.repeat(40)], { repo })));
  t.like(eb, { code: 'git_failed', exit: ea!.exit });
  t.is(eb!.message, ea!.message);
});

test.serial('stdin, environment, working directory and arguments no shell may interpret', async (t) => {
  const { dir, repo } = await fixture.make();
  const input = Buffer.from([0, 1, 2, 255, 10, 39, 34, 36]);
  const [ha, hb] = await both(() => git(['hash-object', '--stdin'], { repo, input }));
  t.is(hb.stdout.toString(), ha.stdout.toString());
  const odd = `it's "$(touch ${path.join(dir, 'pwned')})" \`id\` $HOME\nline two`;
  const [ma, mb] = await both(() => git(['-c', `user.name=${odd}`, 'config', 'user.name'], { repo, env: { GIT_ODD: odd } }));
  t.is(mb.stdout.toString(), ma.stdout.toString());
  t.is(mb.stdout.toString().trimEnd(), odd);
  t.false(fs.existsSync(path.join(dir, 'pwned')), 'nothing was executed');
  const [va, vb] = await both(() => git(['var', 'GIT_AUTHOR_IDENT'], { repo, env: { GIT_AUTHOR_NAME: "O'Brien", GIT_AUTHOR_EMAIL: 'ob@example.com', GIT_AUTHOR_DATE: '1700000000 +0000' } }));
  t.is(vb.stdout.toString(), va.stdout.toString());
  const sub = fs.mkdtempSync(path.join(os.tmpdir(), 'hh cwd with space-'));
  try {
    const [ca, cb] = await both(() => git(['rev-parse', '--show-prefix'], { cwd: sub, allowFail: true }));
    t.is(cb.code, ca.code);
  } finally { fs.rmSync(sub, { recursive: true, force: true }); }
});

test.serial('more calls than workers: the rest spawn directly; a killed worker is replaced', async (t) => {
  const { repo, roots } = await fixture.make();
  const r = new GitRunner(gitEnv(), 2);
  try {
    const req = { args: ['cat-file', '-t', roots.config], cwd: repo, env: { GIT_DIR: repo }, maxOutput: 1 << 20 };
    const first = r.run(req);
    const second = r.run(req);
    t.truthy(first); t.truthy(second);
    t.is(r.run(req), null, 'a third concurrent call is refused (the caller spawns)');
    t.is((await first!).stdout.toString(), 'commit\n');
    t.is((await second!).stdout.toString(), 'commit\n');
    t.is(r.running, 2);
    // output over the limit is reported, not returned
    const big = await r.run({ ...req, args: ['cat-file', 'commit', roots.config], maxOutput: 10 })!;
    t.true(big.tooBig);
    // kill every worker: the next call starts a new one
    for (const w of (r as unknown as { workers: { proc: { kill: (s: string) => void } }[] }).workers) w.proc.kill('SIGKILL');
    for (let i = 0; i < 100 && r.running > 0; i++) await new Promise((res) => setTimeout(res, 10));
    t.is(r.running, 0);
    t.is((await r.run(req)!).stdout.toString(), 'commit\n');
    // concurrency through git(): 12 calls at once with 4 workers all answer
    useGitRunner(true);
    const outs = await Promise.all(Array.from({ length: 12 }, () => git(['cat-file', '-t', roots.config], { repo })));
    t.true(outs.every((o) => o.stdout.toString() === 'commit\n'));
  } finally {
    r.close();
    useGitRunner(false);
  }
});

test.serial('git() spawns directly when a worker dies mid-call or its files cannot be written', async (t) => {
  const { repo, roots } = await fixture.make();
  useGitRunner(true);
  try {
    // A call that takes a while (an alias running sleep); its worker is killed under it.
    const slow = git(['-c', 'alias.nap=!sleep 1 && echo rested', 'nap'], { repo });
    await new Promise((r) => setTimeout(r, 200));
    const killed = pgrepWorkers();
    t.true(killed.length > 0, 'a worker runs the call');
    for (const pid of killed) process.kill(pid, 'SIGKILL');
    t.is((await slow).stdout.toString(), 'rested\n', 'answered by a direct spawn');
    // The workers' directory gone (a full or cleaned /dev/shm): still answered.
    const dirs = fs.readdirSync('/dev/shm').filter((d) => d.startsWith('hyperhive-git-')).map((d) => path.join('/dev/shm', d));
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    t.is((await git(['cat-file', '-t', roots.config], { repo })).stdout.toString(), 'commit\n');
  } finally {
    useGitRunner(false);
  }
});

/** The pids of this process's git workers (children running the read loop). */
function pgrepWorkers(): number[] {
  const out: number[] = [];
  for (const p of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (ppid === process.pid && cmd.includes('while IFS= read -r f')) out.push(Number(p));
    } catch { /* gone */ }
  }
  return out;
}
