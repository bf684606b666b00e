import test from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { commitFile, fsckProblems, gitCli, mustGit, refs } from '../helpers/git.ts';
import { cloneAs, startGitHttp, type GitHttp } from '../helpers/git-http.ts';

let f: GitHttp;
test.before(async () => { f = await startGitHttp(); });
test.after.always(async () => { await f?.close(); });

const hasCurl = (() => { try { execFileSync('curl', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; } })();

test.serial('operator clones, edits and pushes proposed; the push lands with the pusher recorded', async (t) => {
  const dir = await cloneAs(f, 'alice', 'operator');
  t.true(fs.existsSync(path.join(dir, 'agent.nix')));
  const sha = await commitFile(dir, 'prompt.md', 'You are alice, and you test things.\n');
  const r = await gitCli(['push', 'origin', 'proposed'], { cwd: dir });
  t.is(r.code, 0, r.stderr);
  t.is((await refs(f.repo('alice')))['refs/heads/proposed'], sha);
  const ev = f.events().filter((e) => e.agent === 'alice' && e.new === sha);
  t.is(ev.length, 1);
  t.is(ev[0]!.pusher, 'op');
  t.is(ev[0]!.ref, 'refs/heads/proposed');
  // The reflog of a push names the pusher too.
  const reflog = await mustGit(['--git-dir', f.repo('alice'), 'reflog', 'show', '--format=%gn', 'refs/heads/proposed']);
  t.is(reflog.split('\n')[0], 'op');
  t.is(await fsckProblems(f.repo('alice')), null);
});

test.serial('an agent pushes its own proposed and its own notes on live', async (t) => {
  const dir = await cloneAs(f, 'alice', 'alice');
  const sha = await commitFile(dir, 'hyperhive.json', JSON.stringify({ tools: { allow: ['Edit', 'Bash(git *)'], deny: [] } }, null, 2));
  let r = await gitCli(['push', 'origin', 'proposed'], { cwd: dir });
  t.is(r.code, 0, r.stderr);
  t.is(f.events().find((e) => e.new === sha)?.pusher, 'alice');

  await mustGit(['checkout', '-q', '-b', 'live', 'origin/live'], { cwd: dir });
  const notes = await commitFile(dir, 'notes.md', '# notes\nremember: tests pass\n');
  r = await gitCli(['push', 'origin', 'live'], { cwd: dir });
  t.is(r.code, 0, r.stderr);
  t.is((await refs(f.repo('alice')))['refs/heads/live'], notes);
});

test.serial('the manager sets a sub-agent model on live', async (t) => {
  const dir = await cloneAs(f, 'bob', 'manager');
  await mustGit(['checkout', '-q', '-b', 'live', 'origin/live'], { cwd: dir });
  const sha = await commitFile(dir, 'model', 'opus\n');
  const r = await gitCli(['push', 'origin', 'live'], { cwd: dir });
  t.is(r.code, 0, r.stderr);
  t.is((await refs(f.repo('bob')))['refs/heads/live'], sha);
});

test('an agent token reaches only its own repo; the manager token reaches every repo', async (t) => {
  const denied = await gitCli(['ls-remote', f.remote('bob', 'alice')]);
  t.not(denied.code, 0);
  t.regex(denied.stderr, /remote: forbidden: agent alice's token reaches only its own repo/);
  t.regex(denied.stderr, /403/);

  const own = await gitCli(['ls-remote', f.remote('alice', 'alice')]);
  t.is(own.code, 0, own.stderr);
  t.regex(own.stdout, /refs\/heads\/proposed/);
  for (const agent of ['alice', 'bob', 'manager']) {
    const r = await gitCli(['ls-remote', f.remote(agent, 'manager')]);
    t.is(r.code, 0, `${agent}: ${r.stderr}`);
    t.regex(r.stdout, /refs\/heads\/live/);
  }
});

test('wrong or missing token is 401 with a message; unknown agent is 404', async (t) => {
  const anon = await gitCli(['ls-remote', f.remote('alice', null)]);
  t.not(anon.code, 0);
  t.regex(anon.stderr, /could not read Username|Authentication failed|401/);

  const wrong = await gitCli(['ls-remote', f.remote('alice', null).replace('http://', 'http://x:not-a-token@')]);
  t.not(wrong.code, 0);
  t.regex(wrong.stderr, /remote: authentication required/);
  t.regex(wrong.stderr, /Authentication failed/);

  const res = await fetch(`${f.url}/git/alice.git/info/refs?service=git-upload-pack`);
  t.is(res.status, 401);
  t.is(res.headers.get('www-authenticate'), 'Basic realm="hyperhive", charset="UTF-8"');

  const unknown = await gitCli(['ls-remote', f.remote('nobody', 'operator')]);
  t.not(unknown.code, 0);
  t.regex(unknown.stderr, /remote: no agent named nobody/);
  // An agent with a token but no repo: it may not even learn whether other repos exist.
  const carol = await gitCli(['ls-remote', f.remote('carol', 'carol')]);
  t.not(carol.code, 0);
  t.regex(carol.stderr, /no agent named carol/);
});

test('paths outside /git/<agent>.git/<git path> never reach the filesystem', async (t) => {
  fs.writeFileSync(path.join(f.dir, 'hyperhive.db'), 'secret');
  const auth = { authorization: `Basic ${Buffer.from(`x:${f.tokens.operator}`).toString('base64')}` };
  const bad = [
    '/git/../hyperhive.db', '/git/%2e%2e/hyperhive.db', '/git/alice.git/../../hyperhive.db',
    '/git/alice.git/%2e%2e/%2e%2e/hyperhive.db', '/git/alice.git/config', '/git/alice.git/hooks/pre-receive',
    '/git/alice.git/objects/../config', '/git/Alice.git/info/refs', '/git/alice.git//info/refs',
    '/git/alice.git/info/refs%00', '/git/operator.git/info/refs', '/git/alice/info/refs',
  ];
  for (const p of bad) {
    // node's fetch would normalise `..`; a raw request sends the path as written.
    const status = await new Promise<number>((resolve, reject) => {
      const u = new URL(f.url);
      const req = http.request({ host: u.hostname, port: u.port, path: p, headers: auth }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
      req.on('error', reject);
      req.end();
    });
    t.true(status === 404 || status === 400, `${p} → ${status}`);
  }
  const ok = await fetch(`${f.url}/git/alice.git/info/refs?service=git-upload-pack`, { headers: auth });
  t.is(ok.status, 200);
  t.is(ok.headers.get('content-type'), 'application/x-git-upload-pack-advertisement');
  await ok.arrayBuffer();
  const badService = await fetch(`${f.url}/git/alice.git/info/refs?service=git-upload-archive`, { headers: auth });
  t.is(badService.status, 400);
});

test('shallow clone and protocol v2 work', async (t) => {
  const dir = path.join(f.dir, 'work', 'shallow');
  const r = await gitCli(['clone', '-q', '--depth', '1', '--branch', 'proposed', f.remote('alice', 'operator'), dir]);
  t.is(r.code, 0, r.stderr);
  t.is((await mustGit(['rev-parse', '--is-shallow-repository'], { cwd: dir })).trim(), 'true');
  const v2 = await gitCli(['-c', 'protocol.version=2', 'ls-remote', f.remote('alice', 'operator')], { env: { GIT_TRACE_PACKET: '1' } });
  t.is(v2.code, 0, v2.stderr);
  t.regex(v2.stdout, /refs\/heads\/applied/);
  t.regex(v2.stderr, /version 2/);
  const fetched = await gitCli(['-c', 'protocol.version=2', 'fetch', '-q', 'origin', 'live'], { cwd: dir });
  t.is(fetched.code, 0, fetched.stderr);
});

if (!hasCurl) console.log('skipped: post-receive (curl) needs curl, which is not installed: the sh post-receive takes the node path');
for (const via of ['curl', 'node'] as const) (via === 'curl' && !hasCurl ? test.serial.skip : test.serial)(`post-receive (${via}) tells the controller and prints its answer; a dead controller does not fail the push`, async (t) => {
  const seen: unknown[] = [];
  const controller = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      if (req.url !== '/api/internal/pushed' || req.headers.authorization !== 'Bearer hook-secret') { res.statusCode = 401; res.end('{}'); return; }
      seen.push(JSON.parse(body));
      const lines = ['request #12 raised: http://controller/approvals/12'];
      // As the real route does: text lines for the sh hook's curl, JSON for the node one.
      if (req.headers.accept === 'text/plain') { res.setHeader('content-type', 'text/plain'); res.end(lines.map((l) => `${l}\n`).join('')); return; }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ lines }));
    });
  });
  await new Promise<void>((r) => controller.listen(0, '127.0.0.1', r));
  const cport = (controller.address() as AddressInfo).port;
  const g = await startGitHttp({ agents: ['alice'], handler: { hookEnv: () => ({ HYPERHIVE_URL: `http://127.0.0.1:${cport}/`, HYPERHIVE_HOOK_TOKEN: 'hook-secret', HYPERHIVE_HOOK_CURL: via === 'curl' ? '1' : '0' }) } });
  try {
    const dir = await cloneAs(g, 'alice', 'alice');
    const old = (await refs(g.repo('alice')))['refs/heads/proposed'];
    const sha = await commitFile(dir, 'prompt.md', 'new prompt\n');
    const r = await gitCli(['push', 'origin', 'proposed'], { cwd: dir });
    t.is(r.code, 0, r.stderr);
    t.regex(r.stderr, /remote: hyperhive: request #12 raised: http:\/\/controller\/approvals\/12/);
    t.deepEqual(seen, [{ agent: 'alice', pusher: 'alice', updates: [{ ref: 'refs/heads/proposed', old, new: sha }] }]);

    await new Promise<void>((r2) => controller.close(() => r2()));
    const sha2 = await commitFile(dir, 'prompt.md', 'newer prompt\n');
    const r2 = await gitCli(['push', 'origin', 'proposed'], { cwd: dir });
    t.is(r2.code, 0, r2.stderr);
    t.regex(r2.stderr, /remote: hyperhive: the push landed; the controller did not answer now and will reconcile it shortly/);
    t.is((await refs(g.repo('alice')))['refs/heads/proposed'], sha2);
    // The hook token is never written anywhere in the repo.
    const files = fs.readdirSync(g.repo('alice'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
    t.true(files.length > 0);
    for (const e of files) t.false(fs.readFileSync(path.join(e.parentPath, e.name)).includes('hook-secret'), e.name);
  } finally {
    controller.close();
    await g.close();
  }
});
