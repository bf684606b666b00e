import test from 'ava';
import { isHyperhiveError } from '../../controller/errors.ts';
import { assertModel, MODEL_PATTERN } from '../../controller/names.ts';
import { checkUpdate } from '../../repos/receive.ts';
import { fakeCore, OPERATOR } from '../helpers/fake-core.ts';

// A model is an argv value of the agent CLI: one that starts with '-' would read as an option
// (issue 15 item 7), so the pattern wants a letter or digit first, everywhere a model is written.
const BAD = ['-h', '--dangerously-skip-permissions', '-', '.hidden', ':x'];
const GOOD = ['sonnet', 'opus', 'claude-sonnet-4-5-20250929', '4o', 'x.y:z-1'];

test('the pattern: a letter or digit first, 64 characters at most', (t) => {
  for (const m of GOOD) t.true(MODEL_PATTERN.test(m), m);
  for (const m of BAD) t.false(MODEL_PATTERN.test(m), m);
  t.true(MODEL_PATTERN.test(`a${'b'.repeat(63)}`));
  t.false(MODEL_PATTERN.test(`a${'b'.repeat(64)}`));
  for (const m of BAD) t.throws(() => assertModel(m), { message: /invalid model/ });
});

test('a push of a model starting with - is refused on live with the reason', (t) => {
  for (const m of BAD) {
    const { reasons } = checkUpdate({ kind: 'operator', name: 'operator' }, 'alpha', 'live', { ref: 'refs/heads/live', old: 'a'.repeat(40), new: 'b'.repeat(40) }, { fastForward: true, changes: [{ path: 'model', status: 'M' }], contents: { model: `${m}\n` }, oversized: [] });
    t.true(reasons.some((r) => /model must be one line matching/.test(r)), `${m}: ${reasons.join('; ')}`);
  }
});

test('setting a model starting with - through the controller is a 400 (invalid_model), and live keeps its model', async (t) => {
  const f = await fakeCore(t);
  const a = await f.core.controller.createAgent('alpha', OPERATOR);
  const err = await t.throwsAsync(() => f.core.controller.setModel('alpha', '--dangerously-skip-permissions', OPERATOR));
  t.true(isHyperhiveError(err) && err.code === 'invalid_model' && err.status === 400, err?.message);
  const after = await f.core.controller.getAgent('alpha');
  t.is(after.live, a.live);
  t.is(after.model, a.model);
});
