import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { writeTokenFile } from '../../controller/auth/index.ts';
import { HyperhiveError } from '../../controller/errors.ts';
import { prepareAgentClone } from '../../repos/agent-clone.ts';
import { cloneCommand } from '../../repos/clone-command.ts';
import { credentialHelperCommand, shellQuote } from '../../repos/credential-helper.ts';
import { fsckProblems, gitCli, refs } from '../helpers/git.ts';
import { startGitHttp, type GitHttp } from '../helpers/git-http.ts';

let f: GitHttp;
test.before(async () => { f = await startGitHttp({ agents: ['alice', 'bob'] }); });
test.after.always(async () => { await f?.close(); });

/** Every file under `dir` (the .git directory included) whose bytes contain `needle`. */
function filesContaining(dir: string, needle: string): string[] {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name))
    .filter((p) => fs.readFileSync(p).includes(needle));
}

/** A HOME whose global git config has a `store` helper: it must never get to keep the token. */
function homeWithStoreHelper(name: string): { home: string; store: string } {
  const home = path.join(f.dir, 'homes', name);
  fs.mkdirSync(home, { recursive: true });
  const store = path.join(home, 'stored-credentials');
  fs.writeFileSync(path.join(home, '.gitconfig'), `[credential]\n\thelper = store --file ${store}\n`);
  return { home, store };
}

test.serial('prepareAgentClone: plain git commit && git push work through the credential helper, no token on disk', async (t) => {
  const stateDir = path.join(f.dir, 'agents', 'alice', 'state');
  const tokenFile = path.join(f.dir, 'agents', 'alice', 'token');
  writeTokenFile(tokenFile, f.tokens.alice!);
  const r = await prepareAgentClone({ url: `${f.url}/`, agent: 'alice', tokenFile, stateDir });
  const dir = path.join(stateDir, 'repo');
  t.is(r.dir, dir);
  t.is(r.remote, `${f.url}/git/alice.git`);
  t.deepEqual(r.branches, { proposed: 'created', live: 'created' });
  const { home, store } = homeWithStoreHelper('alice');
  const g = (args: string[]) => gitCli(args, { cwd: dir, identity: false, home });
  t.is((await g(['symbolic-ref', '--short', 'HEAD'])).stdout.trim(), 'proposed');
  t.is((await g(['rev-parse', '--abbrev-ref', 'proposed@{upstream}'])).stdout.trim(), 'origin/proposed');
  t.is((await g(['rev-parse', '--abbrev-ref', 'live@{upstream}'])).stdout.trim(), 'origin/live');
  t.is((await g(['config', 'user.name'])).stdout.trim(), 'alice');
  t.is((await g(['config', 'remote.origin.url'])).stdout.trim(), `${f.url}/git/alice.git`);

  fs.appendFileSync(path.join(dir, 'prompt.md'), '\nAlso: write tests.\n');
  t.is((await g(['commit', '-qam', 'prompt: write tests'])).code, 0);
  const push = await g(['push']);
  t.is(push.code, 0, push.stderr);
  const tip = (await g(['rev-parse', 'HEAD'])).stdout.trim();
  t.is((await refs(f.repo('alice')))['refs/heads/proposed'], tip);
  t.is(f.events().find((e) => e.new === tip)?.pusher, 'alice');
  t.is((await g(['log', '-1', '--format=%an <%ae>'])).stdout.trim(), 'alice <alice@hyperhive.local>');

  t.is((await g(['switch', '-q', 'live'])).code, 0);
  fs.writeFileSync(path.join(dir, 'notes.md'), '# notes\n- the build needs node 20\n');
  t.is((await g(['commit', '-qam', 'notes: node 20'])).code, 0);
  const pushLive = await g(['push']);
  t.is(pushLive.code, 0, pushLive.stderr);
  t.is((await refs(f.repo('alice')))['refs/heads/live'], (await g(['rev-parse', 'HEAD'])).stdout.trim());

  t.deepEqual(filesContaining(dir, f.tokens.alice!), []);
  t.false(fs.existsSync(store), 'the global store helper never received the token');
  t.is(await fsckProblems(f.repo('alice')), null);
});

test.serial('prepareAgentClone again refreshes without losing local work', async (t) => {
  const stateDir = path.join(f.dir, 'agents', 'bob', 'state');
  const tokenFile = path.join(f.dir, 'agents', 'bob', 'token');
  writeTokenFile(tokenFile, f.tokens.bob!);
  await prepareAgentClone({ url: f.url, agent: 'bob', tokenFile, stateDir });
  const dir = path.join(stateDir, 'repo');

  // Someone else moves proposed and live meanwhile.
  const op = path.join(f.dir, 'work', 'bob-op');
  t.is((await gitCli(['clone', '-q', '-b', 'proposed', f.remote('bob', 'operator'), op])).code, 0);
  fs.appendFileSync(path.join(op, 'prompt.md'), 'operator edit\n');
  await gitCli(['commit', '-qam', 'operator edit'], { cwd: op });
  t.is((await gitCli(['push', '-q', 'origin', 'proposed'], { cwd: op })).code, 0);
  await gitCli(['checkout', '-q', '-b', 'live', 'origin/live'], { cwd: op });
  fs.writeFileSync(path.join(op, 'model'), 'opus\n');
  await gitCli(['commit', '-qam', 'model: opus'], { cwd: op });
  t.is((await gitCli(['push', '-q', 'origin', 'live'], { cwd: op })).code, 0);
  const remote = await refs(f.repo('bob'));

  const again = await prepareAgentClone({ url: f.url, agent: 'bob', tokenFile, stateDir });
  t.deepEqual(again.branches, { proposed: 'updated', live: 'updated' });
  t.is((await gitCli(['rev-parse', 'proposed', 'live'], { cwd: dir })).stdout.trim().split('\n').join(' '),
    `${remote['refs/heads/proposed']} ${remote['refs/heads/live']}`);
  t.is(fs.readFileSync(path.join(dir, 'prompt.md'), 'utf8').endsWith('operator edit\n'), true);

  // Uncommitted work in the checkout and a local commit on live stay as they are.
  t.is((await gitCli(['switch', '-q', 'live'], { cwd: dir })).code, 0);
  fs.writeFileSync(path.join(dir, 'notes.md'), 'local note\n');
  t.is((await gitCli(['commit', '-qam', 'local note'], { cwd: dir })).code, 0);
  const localLive = (await gitCli(['rev-parse', 'HEAD'], { cwd: dir })).stdout.trim();
  t.is((await gitCli(['switch', '-q', 'proposed'], { cwd: dir })).code, 0);
  fs.writeFileSync(path.join(dir, 'prompt.md'), 'work in progress\n');
  const third = await prepareAgentClone({ url: f.url, agent: 'bob', tokenFile, stateDir });
  t.deepEqual(third.branches, { proposed: 'current', live: 'ahead' });
  t.is((await gitCli(['rev-parse', 'live'], { cwd: dir })).stdout.trim(), localLive);
  t.is(fs.readFileSync(path.join(dir, 'prompt.md'), 'utf8'), 'work in progress\n');
  t.deepEqual(filesContaining(dir, f.tokens.bob!), []);
});

test.serial('a wrong token file makes the push fail with the server message; another agent repo is refused', async (t) => {
  const stateDir = path.join(f.dir, 'agents', 'alice2', 'state');
  const tokenFile = path.join(f.dir, 'agents', 'alice2', 'token');
  writeTokenFile(tokenFile, f.tokens.bob!);
  const err = await t.throwsAsync(prepareAgentClone({ url: f.url, agent: 'alice', tokenFile, stateDir }));
  t.true(err instanceof HyperhiveError);
  t.regex(err!.message, /could not fetch .*forbidden: agent bob's token reaches only its own repo/);
  writeTokenFile(tokenFile, 'not-a-token');
  const err2 = await t.throwsAsync(prepareAgentClone({ url: f.url, agent: 'alice', tokenFile, stateDir }));
  t.regex(err2!.message, /authentication required|Authentication failed/);
  await t.throwsAsync(prepareAgentClone({ url: 'http://user:pw@127.0.0.1:1', agent: 'alice', tokenFile, stateDir }), { message: /must not carry credentials/ });
  await t.throwsAsync(prepareAgentClone({ url: f.url, agent: '../etc', tokenFile, stateDir }), { message: /invalid agent name/ });
});

test.serial('hyperhive clone: an operator clone with the helper, pushable; refuses a non-empty destination', async (t) => {
  const tokenFile = path.join(f.dir, 'operator.token');
  writeTokenFile(tokenFile, f.tokens.operator!);
  const dir = path.join(f.dir, 'work', 'op clone'); // a space, to exercise quoting
  const r = await cloneCommand({ url: f.url, tokenFile, agent: 'alice', dir });
  t.is(r.dir, dir);
  t.deepEqual(Object.keys(r.branches).sort(), ['live', 'proposed']);
  fs.appendFileSync(path.join(dir, 'prompt.md'), 'from the workstation\n');
  t.is((await gitCli(['commit', '-qam', 'workstation edit'], { cwd: dir })).code, 0);
  const push = await gitCli(['push'], { cwd: dir });
  t.is(push.code, 0, push.stderr);
  const tip = (await gitCli(['rev-parse', 'HEAD'], { cwd: dir })).stdout.trim();
  t.is(f.events().find((e) => e.new === tip)?.pusher, 'op');
  t.deepEqual(filesContaining(dir, f.tokens.operator!), []);

  await t.throwsAsync(cloneCommand({ url: f.url, tokenFile, agent: 'alice', dir }), { message: /already exists and is not an empty directory/ });
  const missing = path.join(f.dir, 'work', 'nobody');
  await t.throwsAsync(cloneCommand({ url: f.url, tokenFile, agent: 'nobody', dir: missing }), { message: /no agent named nobody/ });
  t.false(fs.existsSync(missing), 'a failed clone leaves nothing behind');
});

test('the credential helper command answers only get, and quotes the token path', (t) => {
  const cmd = credentialHelperCommand('alice', "/tmp/it's here/token");
  t.true(cmd.startsWith('!f() { test "$1" = get || exit 0;'));
  t.true(cmd.includes(shellQuote("/tmp/it's here/token")));
  t.is(shellQuote("a'b"), `'a'\\''b'`);
  t.throws(() => credentialHelperCommand('al ice', '/x'), { message: /invalid username/ });
});
