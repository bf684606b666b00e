import test from 'ava';
import { parseGitRoute, parsePushCommands, refusePushResponse } from '../../repos/http.ts';

test('git routes: exact paths only, decided on the raw URL', (t) => {
  t.is(parseGitRoute('/api/agents', 'GET'), null);
  t.is(parseGitRoute('/gitx/alice.git/info/refs', 'GET'), null);
  t.deepEqual(parseGitRoute('/git/alice.git/info/refs?service=git-receive-pack', 'GET'),
    { ok: true, agent: 'alice', pathInfo: '/alice.git/info/refs', service: 'git-receive-pack', rpc: false });
  t.deepEqual(parseGitRoute('/git/alice.git/git-upload-pack', 'POST'),
    { ok: true, agent: 'alice', pathInfo: '/alice.git/git-upload-pack', service: 'git-upload-pack', rpc: true });
  t.like(parseGitRoute('/git/alice.git/objects/pack/pack-' + 'a'.repeat(40) + '.idx', 'GET'), { ok: true });
  for (const bad of ['/git/../hyperhive.db', '/git/%2e%2e/x', '/git/alice.git/config', '/git/alice.git/../../x',
    '/git/a/../alice.git/HEAD', '/git/alice.git/objects/info/../../config', '/git/system.git/HEAD', '/git', '/git/']) {
    t.like(parseGitRoute(bad, 'GET'), { ok: false }, bad);
  }
  t.like(parseGitRoute('/git/alice.git/git-receive-pack', 'GET'), { ok: false, status: 405 });
  t.like(parseGitRoute('/git/alice.git/info/refs?service=git-upload-archive', 'GET'), { ok: false, status: 400 });
});

const pkt = (s: string) => `${(Buffer.byteLength(s) + 4).toString(16).padStart(4, '0')}${s}`;

test('an oversized push is refused in git protocol, through the side band when the client asked for it', (t) => {
  const a = 'a'.repeat(40);
  const b = 'b'.repeat(40);
  const head = Buffer.from(`${pkt(`${a} ${b} refs/heads/proposed\0report-status side-band-64k agent=git/2\n`)}${pkt(`${a} ${b} refs/heads/live\n`)}0000PACK`);
  const cmds = parsePushCommands(head)!;
  t.deepEqual(cmds.refs, ['refs/heads/proposed', 'refs/heads/live']);
  t.true(cmds.caps.has('side-band-64k'));
  t.is(parsePushCommands(Buffer.from(pkt(`${a} ${b} refs/heads/proposed\n`))), null, 'incomplete command list');
  const plain = refusePushResponse({ refs: ['refs/heads/proposed'], caps: new Set(['report-status']) }, 'too big').toString();
  t.is(plain, `${pkt('unpack refused by hyperhive\n')}${pkt('ng refs/heads/proposed too big\n')}0000`);
  const banded = refusePushResponse(cmds, 'too big').toString('latin1');
  t.true(banded.includes('\x02hyperhive: too big\n'));
  t.true(banded.includes('ng refs/heads/live too big'));
  t.true(banded.endsWith('0000'));
});
