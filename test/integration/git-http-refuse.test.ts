import test from 'ava';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { commitFile, fsckProblems, gitCli, mustGit, refs } from '../helpers/git.ts';
import { cloneAs, startGitHttp, type GitHttp } from '../helpers/git-http.ts';
import { waitFor } from '../helpers/wait.ts';

const PUSH_LIMIT = 256 * 1024;
const FILE_LIMIT = 64 * 1024;

let f: GitHttp;
test.before(async () => {
  f = await startGitHttp({ handler: { maxPushBytes: PUSH_LIMIT, hookEnv: () => ({ HYPERHIVE_MAX_FILE_BYTES: String(FILE_LIMIT) }) } });
});
test.after.always(async () => { await f?.close(); });

/** Pushes and expects a refusal whose output matches `message`, with every ref and the repo untouched. */
async function refused(t: import('ava').ExecutionContext, agent: string, dir: string, args: string[], message: RegExp): Promise<string> {
  const before = await refs(f.repo(agent));
  const r = await gitCli(['push', 'origin', ...args], { cwd: dir });
  t.not(r.code, 0, `push ${args.join(' ')} should be refused`);
  t.regex(r.stderr, message);
  t.deepEqual(await refs(f.repo(agent)), before, 'no ref moved');
  t.is(await fsckProblems(f.repo(agent)), null);
  return r.stderr;
}

test.serial('push to applied, a tag, or another ref is refused with the reason', async (t) => {
  const dir = await cloneAs(f, 'alice', 'operator');
  await commitFile(dir, 'prompt.md', 'sneaky\n');
  await refused(t, 'alice', dir, ['HEAD:refs/heads/applied'], /remote: hyperhive: refused applied: applied is moved only by the controller/);
  await mustGit(['tag', 'v1'], { cwd: dir });
  await refused(t, 'alice', dir, ['refs/tags/v1'], /remote: hyperhive: refused refs\/tags\/v1: tags are not accepted here/);
  await refused(t, 'alice', dir, ['HEAD:refs/heads/feature'], /only refs\/heads\/proposed and refs\/heads\/live may be pushed, not refs\/heads\/feature/);
  await refused(t, 'alice', dir, ['HEAD:refs/notes/x'], /only refs\/heads\/proposed and refs\/heads\/live may be pushed/);
});

test.serial('deleting proposed or live is refused', async (t) => {
  const dir = await cloneAs(f, 'alice', 'operator');
  await refused(t, 'alice', dir, [':refs/heads/proposed'], /refused proposed: proposed may not be deleted/);
  await refused(t, 'alice', dir, [':refs/heads/live'], /refused live: live may not be deleted/);
});

test.serial('a force-push rewriting live is refused; one rewriting proposed is accepted', async (t) => {
  const dir = await cloneAs(f, 'bob', 'operator');
  await mustGit(['checkout', '-q', '-b', 'live', 'origin/live'], { cwd: dir });
  await mustGit(['commit', '-q', '--amend', '-m', 'rewritten history'], { cwd: dir });
  await refused(t, 'bob', dir, ['--force', 'live'], /refused live: live only moves forward/);

  await mustGit(['checkout', '-q', 'proposed'], { cwd: dir });
  await mustGit(['commit', '-q', '--amend', '-m', 'rewritten config history'], { cwd: dir });
  const sha = (await mustGit(['rev-parse', 'HEAD'], { cwd: dir })).trim();
  const r = await gitCli(['push', '--force', 'origin', 'proposed'], { cwd: dir });
  t.is(r.code, 0, r.stderr);
  t.is((await refs(f.repo('bob')))['refs/heads/proposed'], sha);
  t.is(await fsckProblems(f.repo('bob')), null);
});

test.serial('who may write live: an agent not its model, nobody but an operator the manager model, nobody config', async (t) => {
  const alice = await cloneAs(f, 'alice', 'alice');
  await mustGit(['checkout', '-q', '-b', 'live', 'origin/live'], { cwd: alice });
  await commitFile(alice, 'model', 'opus\n');
  await refused(t, 'alice', alice, ['live'], /refused live: agent alice may not change the model of alice: ask an operator or the manager/);

  const mgr = await cloneAs(f, 'manager', 'manager');
  await mustGit(['checkout', '-q', '-b', 'live', 'origin/live'], { cwd: mgr });
  await commitFile(mgr, 'model', 'opus\n');
  await refused(t, 'manager', mgr, ['live'], /only an operator may change the manager's model/);

  const op = await cloneAs(f, 'alice', 'operator');
  await mustGit(['checkout', '-q', '-b', 'live', 'origin/live'], { cwd: op });
  await commitFile(op, 'agent.nix', '{ ... }: { }\n');
  await refused(t, 'alice', op, ['live'], /on live only notes.md and model may change, not agent.nix: config belongs on proposed/);
  await mustGit(['reset', '-q', '--hard', 'origin/live'], { cwd: op });
  await commitFile(op, 'model', 'not a model; rm -rf /\n');
  await refused(t, 'alice', op, ['live'], /model must be one line matching/);
});

test.serial('notes.md or model added to proposed is refused with a pointer to live', async (t) => {
  const dir = await cloneAs(f, 'alice', 'alice');
  await commitFile(dir, 'notes.md', 'my notes\n');
  await refused(t, 'alice', dir, ['proposed'], /refused proposed: notes.md does not belong on proposed: .*push them to refs\/heads\/live/);
});

test.serial('malformed agent.nix and invalid hyperhive.json are refused with what is wrong', async (t) => {
  const dir = await cloneAs(f, 'alice', 'operator');
  await commitFile(dir, 'agent.nix', '{ config, ... }: { services.foo = ; }\n');
  const out = await refused(t, 'alice', dir, ['proposed'], /refused proposed: agent.nix does not parse|agent.nix parse check skipped/);
  if (fs.existsSync('/usr/bin/nix-instantiate')) t.regex(out, /agent.nix does not parse: syntax error, unexpected ';'.*agent.nix:1:/);
  await mustGit(['reset', '-q', '--hard', 'origin/proposed'], { cwd: dir });
  await commitFile(dir, 'hyperhive.json', JSON.stringify({ tools: { allow: ['Edit'] }, colour: 'blue' }));
  await refused(t, 'alice', dir, ['proposed'], /refused proposed: hyperhive.json is invalid: hyperhive.json: unknown key "colour"/);
  await mustGit(['reset', '-q', '--hard', 'origin/proposed'], { cwd: dir });
  await commitFile(dir, 'hyperhive.json', '{"tools": ');
  await refused(t, 'alice', dir, ['proposed'], /hyperhive.json is not valid JSON/);
});

test.serial('a file over the file size limit is refused', async (t) => {
  const dir = await cloneAs(f, 'alice', 'operator');
  await commitFile(dir, 'big.bin', crypto.randomBytes(FILE_LIMIT + 1000));
  await refused(t, 'alice', dir, ['proposed'], new RegExp(`big.bin is ${FILE_LIMIT + 1000} bytes, over the file size limit of ${FILE_LIMIT} bytes`));
});

test.serial('a push over the size limit is refused with a message, sized up front or streamed', async (t) => {
  const dir = await cloneAs(f, 'alice', 'operator');
  // Several files under the file limit, together over the push limit; random so they do not compress.
  for (let i = 0; i < 6; i++) fs.writeFileSync(path.join(dir, `part${i}.bin`), crypto.randomBytes(60 * 1024));
  await mustGit(['add', '.'], { cwd: dir });
  await mustGit(['commit', '-q', '-m', 'too much'], { cwd: dir });
  // Under git's post buffer the request carries a Content-Length…
  await refused(t, 'alice', dir, ['proposed'], /remote: hyperhive: push refused: the request is \d+ bytes, above the push size limit of 262144 bytes/);
  // …over it, the body is chunked and the limit is hit while streaming into receive-pack.
  const r = await gitCli(['-c', 'http.postBuffer=65536', 'push', 'origin', 'proposed'], { cwd: dir });
  t.not(r.code, 0);
  t.regex(r.stderr, /push refused: the request is over 262144 bytes, above the push size limit/);
  t.regex(r.stderr, /\[remote rejected\] proposed -> proposed/);
  t.is(await fsckProblems(f.repo('alice')), null);
  t.deepEqual(leftovers(f.repo('alice')), []);
});

/** Quarantine or temporary pack files a failed receive left behind. */
function leftovers(repo: string): string[] {
  const objects = path.join(repo, 'objects');
  const out = fs.readdirSync(objects).filter((n) => n.startsWith('incoming-') || n.startsWith('tmp_'));
  if (fs.existsSync(path.join(objects, 'pack'))) out.push(...fs.readdirSync(path.join(objects, 'pack')).filter((n) => n.startsWith('tmp_')));
  return out;
}

function pktLine(s: string): Buffer {
  const b = Buffer.from(s);
  return Buffer.concat([Buffer.from((b.length + 4).toString(16).padStart(4, '0')), b]);
}

/** A real receive-pack request body for a new commit on proposed. */
async function receivePackBody(dir: string): Promise<{ body: Buffer; old: string; next: string }> {
  const old = (await mustGit(['rev-parse', 'origin/proposed'], { cwd: dir })).trim();
  const next = await commitFile(dir, 'prompt.md', `${crypto.randomBytes(20000).toString('base64')}\n`);
  const objs = await mustGit(['rev-list', '--objects', next, '--not', old], { cwd: dir });
  const pack = await new Promise<Buffer>((resolve, reject) => {
    const c = spawn('git', ['pack-objects', '--stdout', '-q'], { cwd: dir });
    const chunks: Buffer[] = [];
    c.stdout.on('data', (d: Buffer) => chunks.push(d));
    c.on('error', reject);
    c.on('close', () => resolve(Buffer.concat(chunks)));
    c.stdin.end(objs);
  });
  const cmd = pktLine(`${old} ${next} refs/heads/proposed\0report-status side-band-64k agent=test\n`);
  return { body: Buffer.concat([cmd, Buffer.from('0000'), pack]), old, next };
}

function post(pathname: string, body: Buffer, opts: { contentLength: number; abortAfter?: number }): Promise<{ status: number; text: string } | 'aborted'> {
  const u = new URL(f.url);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: u.hostname, port: u.port, path: pathname, method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`x:${f.tokens.operator}`).toString('base64')}`,
        'content-type': 'application/x-git-receive-pack-request', 'content-length': String(opts.contentLength),
      },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('latin1') }));
    });
    req.on('error', (e) => (opts.abortAfter !== undefined ? resolve('aborted') : reject(e)));
    if (opts.abortAfter !== undefined) {
      req.write(body.subarray(0, opts.abortAfter));
      setTimeout(() => { req.destroy(); resolve('aborted'); }, 300);
    } else req.end(body);
  });
}

/** Commits `target` as a symbolic link at `at` (replacing what is there, removing `remove`). */
async function commitLink(dir: string, target: string, at: string, remove: string[] = []): Promise<void> {
  for (const p of remove) fs.rmSync(path.join(dir, p));
  fs.mkdirSync(path.dirname(path.join(dir, at)), { recursive: true });
  fs.rmSync(path.join(dir, at), { force: true });
  fs.symlinkSync(target, path.join(dir, at));
  await mustGit(['add', '-A'], { cwd: dir });
  await mustGit(['commit', '-q', '-m', `link ${at}`], { cwd: dir });
}

test.serial('symlinks and gitlinks are refused over HTTP, naming the path: prompt.md to /etc/shadow, one in a subdir, a rename to one, a gitlink', async (t) => {
  const dir = await cloneAs(f, 'alice', 'alice');
  await commitLink(dir, '/etc/shadow', 'prompt.md');
  await refused(t, 'alice', dir, ['HEAD:proposed'], /remote: hyperhive: refused proposed: prompt\.md is a symbolic link \(mode 120000\)/);
  await mustGit(['reset', '-q', '--hard', 'origin/proposed'], { cwd: dir });
  await commitLink(dir, '../../../etc/hostname', 'lib/nested/host.txt');
  await refused(t, 'alice', dir, ['HEAD:proposed'], /refused proposed: lib\/nested\/host\.txt is a symbolic link/);
  await mustGit(['reset', '-q', '--hard', 'origin/proposed'], { cwd: dir });
  await commitLink(dir, '/etc/passwd', 'role.md', ['prompt.md']);
  await refused(t, 'alice', dir, ['HEAD:proposed'], /refused proposed: role\.md is a symbolic link/);
  await mustGit(['reset', '-q', '--hard', 'origin/proposed'], { cwd: dir });
  const head = (await mustGit(['rev-parse', 'HEAD'], { cwd: dir })).trim();
  await mustGit(['update-index', '--add', '--cacheinfo', `160000,${head},vendor/lib`], { cwd: dir });
  await mustGit(['commit', '-q', '-m', 'gitlink'], { cwd: dir });
  await refused(t, 'alice', dir, ['HEAD:proposed'], /refused proposed: vendor\/lib is a gitlink/);
});

test.serial('a truncated pack is refused by receive-pack and leaves the repo intact', async (t) => {
  const dir = await cloneAs(f, 'bob', 'operator');
  const { body } = await receivePackBody(dir);
  const before = await refs(f.repo('bob'));
  const cut = body.subarray(0, body.length - 200);
  const r = await post('/git/bob.git/git-receive-pack', cut, { contentLength: cut.length });
  t.not(r, 'aborted');
  if (r === 'aborted') return;
  t.is(r.status, 200);
  t.regex(r.text, /unpack (?!ok)/);
  t.deepEqual(await refs(f.repo('bob')), before);
  t.is(await fsckProblems(f.repo('bob')), null);
  await waitFor('no leftover temp objects in bob.git', () => leftovers(f.repo('bob')).length === 0, 20_000);
  t.deepEqual(leftovers(f.repo('bob')), []);
});

test.serial('a client that disconnects mid-push leaves the repo intact', async (t) => {
  const dir = await cloneAs(f, 'bob', 'operator');
  const { body } = await receivePackBody(dir);
  const before = await refs(f.repo('bob'));
  const r = await post('/git/bob.git/git-receive-pack', body, { contentLength: body.length, abortAfter: Math.floor(body.length / 2) });
  t.is(r, 'aborted');
  await waitFor('no leftover temp objects in bob.git', () => leftovers(f.repo('bob')).length === 0, 20_000);
  t.deepEqual(leftovers(f.repo('bob')), []);
  t.deepEqual(await refs(f.repo('bob')), before);
  t.is(await fsckProblems(f.repo('bob')), null);
  // The server is still fine afterwards.
  const ok = await gitCli(['ls-remote', f.remote('bob', 'operator')]);
  t.is(ok.code, 0, ok.stderr);
});
