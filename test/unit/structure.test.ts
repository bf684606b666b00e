import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../helpers/paths.ts';

// Invariants with one owner, checked on the source: a second owner creeping back fails here.

function sources(): { file: string; text: string }[] {
  const out: { file: string; text: string }[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|mjs)$/.test(e.name)) out.push({ file: path.relative(PROJECT_ROOT, p), text: fs.readFileSync(p, 'utf8') });
    }
  };
  for (const d of ['controller', 'repos', 'web']) walk(path.join(PROJECT_ROOT, d));
  return out;
}

test('applied is compare-and-swapped in one place only: moveApplied', (t) => {
  const hits = sources().flatMap(({ file, text }) => [...text.matchAll(/casRef\([^;]*?['"]applied['"]/g)].map(() => file));
  t.deepEqual(hits, ['controller/approvals/move-applied.ts']);
  const updateRef = sources().filter(({ text }) => /update-ref[^\n]*refs\/heads\/applied/.test(text)).map((s) => s.file);
  t.deepEqual(updateRef, [], 'no direct git update-ref of applied');
});

test('no untyped change events: every event goes through the typed EventStream', (t) => {
  const hits = sources().filter(({ text }) => /\.emit\(\s*['"]change['"]/.test(text) || /\.on\(\s*['"]change['"]/.test(text)).map((s) => s.file);
  t.deepEqual(hits, []);
});

test('the list of actions that sanction applied exists once', (t) => {
  const hits = sources().filter(({ text }) => /['"]fast-forward['"]\s*,\s*['"]create-applied['"]|IN \('approve'/.test(text)).map((s) => s.file);
  t.deepEqual(hits, ['controller/approvals/move-applied.ts'], 'no copy of the sanctioning list (use SANCTIONING)');
});
