import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  buildHookBundle, ensureHookBundle, hookBundleManifestPath, hookBundlePath, staleReason, sweepStaleTemps,
} from '../../repos/hook-bundle.ts';

/** A small program of two files, so a change in the imported one has to be noticed. */
function fixture(t: { teardown(fn: () => void): void }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hh-hook-bundle-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const src = path.join(dir, 'src');
  fs.mkdirSync(src);
  const entry = path.join(src, 'entry.ts');
  const dep = path.join(src, 'dep.ts');
  fs.writeFileSync(entry, [
    "import { greet } from './dep.ts';",
    'const name: string | undefined = process.argv[2];',
    "if (!name) { process.stderr.write('usage: entry <name>\\n'); process.exitCode = 2; }",
    "else process.stdout.write(`${greet(name)}\\n`);",
    '',
  ].join('\n'));
  fs.writeFileSync(dep, 'export const greet = (n: string): string => `hello ${n}`;\n');
  const out = hookBundlePath(path.join(dir, 'state'));
  return { dir, entry, dep, out };
}

const runNode = (args: string[]) => spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 30_000 });

test('the first call builds; an unchanged second call leaves the bundle alone', async (t) => {
  const f = fixture(t);
  const first = await ensureHookBundle(f.out, { entry: f.entry });
  t.true(first.rebuilt);
  t.is(first.reason, 'no bundle');
  t.is(runNode([f.out, 'bee']).stdout, 'hello bee\n');

  const manifest = JSON.parse(fs.readFileSync(hookBundleManifestPath(f.out), 'utf8'));
  t.is(path.basename(hookBundleManifestPath(f.out)), 'receive-hook.inputs.json');
  t.deepEqual(Object.keys(manifest.inputs).sort(), [f.dep, f.entry].sort());
  t.is(manifest.target, 'node20');
  t.regex(manifest.esbuild, /^\d+\.\d+\.\d+/);
  t.regex(manifest.bundleSha256, /^[0-9a-f]{64}$/);

  const before = fs.statSync(f.out);
  const second = await ensureHookBundle(f.out, { entry: f.entry });
  t.false(second.rebuilt);
  t.is(second.reason, 'up to date');
  const after = fs.statSync(f.out);
  t.is(after.mtimeMs, before.mtimeMs);
  t.is(after.ino, before.ino);
});

test('a changed imported file rebuilds, and the new bundle is then current', async (t) => {
  const f = fixture(t);
  await ensureHookBundle(f.out, { entry: f.entry });
  fs.writeFileSync(f.dep, 'export const greet = (n: string): string => `bonjour ${n}`;\n');
  t.is(staleReason(f.out, f.entry), `input ${f.dep} changed`);
  const r = await ensureHookBundle(f.out, { entry: f.entry });
  t.true(r.rebuilt);
  t.is(r.reason, `input ${f.dep} changed`);
  t.is(runNode([f.out, 'bee']).stdout, 'bonjour bee\n');
  t.false((await ensureHookBundle(f.out, { entry: f.entry })).rebuilt);
});

test('a truncated bundle is never trusted: it is rebuilt whole', async (t) => {
  const f = fixture(t);
  await ensureHookBundle(f.out, { entry: f.entry });
  const whole = fs.readFileSync(f.out);
  fs.writeFileSync(f.out, whole.subarray(0, Math.floor(whole.length / 2)));
  const r = await ensureHookBundle(f.out, { entry: f.entry });
  t.true(r.rebuilt);
  t.is(r.reason, 'bundle does not match its recorded sha256');
  t.deepEqual(fs.readFileSync(f.out), whole);
  t.is(runNode(['--check', f.out]).status, 0);
});

test('a missing, garbled or foreign manifest rebuilds; so does a vanished input', async (t) => {
  const f = fixture(t);
  const manifestFile = hookBundleManifestPath(f.out);
  await ensureHookBundle(f.out, { entry: f.entry });

  fs.rmSync(manifestFile);
  t.is((await ensureHookBundle(f.out, { entry: f.entry })).reason, 'no receive-hook.inputs.json');

  fs.writeFileSync(manifestFile, '{"format": 1, "inp');
  t.is((await ensureHookBundle(f.out, { entry: f.entry })).reason, 'receive-hook.inputs.json is unreadable');

  // An empty input list would vouch for any bundle.
  const good = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
  fs.writeFileSync(manifestFile, JSON.stringify({ ...good, inputs: {} }));
  t.is((await ensureHookBundle(f.out, { entry: f.entry })).reason, 'receive-hook.inputs.json is unreadable');

  fs.writeFileSync(manifestFile, JSON.stringify({ ...good, esbuild: '0.0.1' }));
  t.regex((await ensureHookBundle(f.out, { entry: f.entry })).reason, /^esbuild changed \(0\.0\.1 → /);

  fs.writeFileSync(manifestFile, JSON.stringify({ ...good, target: 'node18' }));
  t.is((await ensureHookBundle(f.out, { entry: f.entry })).reason, 'target changed (node18 → node20)');

  const gone = path.join(f.dir, 'src', 'gone.ts');
  fs.writeFileSync(manifestFile, JSON.stringify({ ...good, inputs: { ...good.inputs, [gone]: 'ab'.repeat(32) } }));
  t.is((await ensureHookBundle(f.out, { entry: f.entry })).reason, `input ${gone} is gone`);

  t.false((await ensureHookBundle(f.out, { entry: f.entry })).rebuilt);
});

test('calls at the same time share one build', async (t) => {
  const f = fixture(t);
  const [a, b] = await Promise.all([ensureHookBundle(f.out, { entry: f.entry }), ensureHookBundle(f.out, { entry: f.entry })]);
  t.is(a, b);
  t.true(a.rebuilt);
  t.deepEqual(fs.readdirSync(path.dirname(f.out)).sort(), ['receive-hook.inputs.json', 'receive-hook.mjs']);
});

test('leftover temp files of dead builds are swept; a live build\'s fresh one is kept', async (t) => {
  const f = fixture(t);
  const lib = path.dirname(f.out);
  fs.mkdirSync(lib, { recursive: true });
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  t.teardown(() => child.kill('SIGKILL'));
  const live = child.pid!;
  const file = (name: string) => path.join(lib, name);
  fs.writeFileSync(file(`receive-hook.mjs.tmp-${dead}`), 'half a bund');
  fs.writeFileSync(file(`receive-hook.inputs.json.tmp-${dead}`), '{"form');
  // This process builds nothing now: a file under its pid is a predecessor's that had the same pid.
  fs.writeFileSync(file(`receive-hook.mjs.tmp-${process.pid}`), 'half');
  fs.writeFileSync(file(`receive-hook.mjs.tmp-${live}`), 'being written');
  fs.writeFileSync(file('receive-hook.mjs.tmp-old-live'), 'x');
  fs.writeFileSync(file('unrelated.mjs.tmp-1'), 'not ours');
  const oldLive = file(`receive-hook.inputs.json.tmp-${live}`);
  fs.writeFileSync(oldLive, 'a pid that was reused long after');
  const hourAgo = new Date(Date.now() - 3_600_000);
  fs.utimesSync(oldLive, hourAgo, hourAgo);

  const r = await ensureHookBundle(f.out, { entry: f.entry });
  t.deepEqual(r.swept.map((p) => path.basename(p)).sort(), [
    `receive-hook.inputs.json.tmp-${dead}`, `receive-hook.inputs.json.tmp-${live}`,
    `receive-hook.mjs.tmp-${dead}`, `receive-hook.mjs.tmp-${process.pid}`,
  ].sort());
  t.deepEqual(fs.readdirSync(lib).sort(), [
    'receive-hook.inputs.json', 'receive-hook.mjs', `receive-hook.mjs.tmp-${live}`, 'receive-hook.mjs.tmp-old-live', 'unrelated.mjs.tmp-1',
  ].sort());
  // A name without a pid goes once it has sat past a minute.
  t.deepEqual(sweepStaleTemps(f.out, Date.now() + 120_000).map((p) => path.basename(p)), ['receive-hook.mjs.tmp-old-live']);
});

test('the real receive hook bundles into a program node runs', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hh-hook-bundle-real-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const out = hookBundlePath(dir);
  await buildHookBundle(out);
  t.is(runNode(['--check', out]).status, 0);
  const usage = runNode([out]);
  t.is(usage.status, 2);
  t.regex(usage.stderr, /^usage: receive-hook\.ts pre-receive\|post-receive <agent>/);
  const manifest = JSON.parse(fs.readFileSync(hookBundleManifestPath(out), 'utf8'));
  t.true(Object.keys(manifest.inputs).some((p) => p.endsWith(path.join('repos', 'receive.ts'))));
  t.false((await ensureHookBundle(out)).rebuilt);
});
