// Paths with spaces, tabs, quotes, unicode and newlines on the approval page of a real controller:
// listed as they are, each file's anchor and section named the same, and the per-file route
// answering for each (a name with a space used to carry the tab git puts after it in `+++`).
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { pushByPath } from '../helpers/git.ts';
import { PROJECT_ROOT } from '../helpers/paths.ts';
import { startServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';

const NAMES = ['a b.md', 'tab\there.md', 'quo"te\'s.md', 'café ünïcödé ✓.md', 'new\nline.md', 'dir with space/inner file.txt', 'plain.md'];

const unescape = (s: string): string => s.replace(/&(amp|lt|gt|quot|#39|#96);/g, (_m, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", '#96': '`' })[e]!);

test('every odd name is listed, anchored and addressable by its own path; a rename to a spaced name too', async (t) => {
  t.timeout(120_000);
  const s = await startServer();
  t.teardown(() => s.close());
  await s.api('POST', '/api/agents', { name: 'worker' });
  const repo = path.join(s.state, 'repos', 'worker.git');
  const files: Record<string, string | Buffer | null> = Object.fromEntries(NAMES.map((n, i) => [n, `line ${i}\n`]));
  // A rename (same content, a spaced name) is listed with both names.
  files['prompt.md'] = null;
  files['role prompt.md'] = fs.readFileSync(path.join(PROJECT_ROOT, 'templates', 'agent', 'prompt.md'));
  pushByPath(repo, files, { message: 'odd names' });
  const ALL = [...NAMES, 'role prompt.md'];
  const [req] = await waitFor('request', async () => { const l = (await s.api('GET', '/api/approvals?agent=worker&status=pending')).body as { id: number; paths: string[] }[]; return l.length > 0 && l; });
  t.deepEqual([...req!.paths].sort(), [...ALL].sort(), 'the API lists the exact names');

  const page = await fetch(`${s.url}/approvals/${req!.id}`, { headers: { authorization: `Bearer ${s.token}`, accept: 'text/html' } });
  t.is(page.status, 200);
  const body = await page.text();
  const listed = [...body.matchAll(/<li data-path="([^"]*)">.*?<a href="#hh-file-(\d+)">/gs)].map((m) => ({ path: unescape(m[1]!), index: Number(m[2]) }));
  const sections = new Map([...body.matchAll(/<section class="hh-file[^"]*" id="hh-file-(\d+)" data-path="([^"]*)"/g)].map((m) => [Number(m[1]), unescape(m[2]!)]));
  t.deepEqual(listed.map((l) => l.path).sort(), [...ALL].sort(), 'the file list names every path exactly');
  t.regex(body, /prompt\.md → role prompt\.md/);
  for (const l of listed) t.is(sections.get(l.index), l.path, `the anchor of ${JSON.stringify(l.path)} leads to its own section`);
  t.false(/data-path="[^"]*\t"/.test(body), 'no name carries the header\'s tab');

  // The old name of the rename finds its section too.
  for (const [name, shown] of [...ALL.map((n) => [n, n]), ['prompt.md', 'role prompt.md']]) {
    const r = await fetch(`${s.url}/approvals/${req!.id}/file?path=${encodeURIComponent(name!)}`, { headers: { authorization: `Bearer ${s.token}`, accept: 'text/html' } });
    t.is(r.status, 200, `GET …/file?path=${JSON.stringify(name)}`);
    const frag = await r.text();
    t.is(unescape(/data-path="([^"]*)"/.exec(frag)?.[1] ?? ''), shown);
  }
  const missing = await fetch(`${s.url}/approvals/${req!.id}/file?path=${encodeURIComponent('a b.md\t')}`, { headers: { authorization: `Bearer ${s.token}`, accept: 'application/json' } });
  t.is(missing.status, 404, 'the name with the header\'s tab is not a file of the change');
});
