import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { can } from '../../controller/lifecycle.ts';
import { dirSize } from '../../controller/ops/dir-size.ts';
import { humanBytes } from '../../controller/ops/lifecycle-deps.ts';
import { assertPurgeConfirmed } from '../../controller/ops/purge.ts';

test('the lifecycle policy: destroy anything not kept; revive and purge only a kept agent; a kept token works nowhere', (t) => {
  for (const s of ['active', 'draft', 'pending'] as const) {
    t.true(can(s, 'destroy'), s);
    t.false(can(s, 'revive'), s);
    t.false(can(s, 'purge'), s);
  }
  t.false(can('kept', 'destroy'));
  t.true(can('kept', 'revive'));
  t.true(can('kept', 'purge'));
  for (const op of ['authenticate', 'serve-git', 'run', 'raise', 'receive-messages', 'suspend'] as const) t.false(can('kept', op), op);
  for (const s of ['active', 'draft', 'pending'] as const) t.true(can(s, 'suspend'), s);
});

test('purge confirmation: missing or another name is refused, naming what to pass', (t) => {
  for (const v of [undefined, null, '']) t.throws(() => assertPurgeConfirmed('worker', v), { message: /^confirm: .*confirm=worker/ });
  t.throws(() => assertPurgeConfirmed('worker', 'Worker'), { message: /"Worker" is not the agent's name "worker"; nothing was deleted/ });
  t.throws(() => assertPurgeConfirmed('worker', ['worker']), { message: /is not the agent's name/ });
  t.notThrows(() => assertPurgeConfirmed('worker', 'worker'));
});

test('dirSize counts regular files, recursively, without following symlinks; humanBytes', async (t) => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'hh-size-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  fs.writeFileSync(path.join(d, 'a'), Buffer.alloc(1000));
  fs.mkdirSync(path.join(d, 'sub', 'deep'), { recursive: true });
  fs.writeFileSync(path.join(d, 'sub', 'deep', 'b'), Buffer.alloc(2500));
  fs.symlinkSync('/usr', path.join(d, 'link'));
  t.is(await dirSize(d), 3500);
  t.is(await dirSize(path.join(d, 'missing')), 0);
  t.is(humanBytes(0), '0 B');
  t.is(humanBytes(3500), '3.4 KB');
  t.is(humanBytes(5 * 1024 * 1024), '5.0 MB');
  t.is(humanBytes(200 * 1024), '200 KB');
});
