import test from 'ava';
import {
  checkUpdate, classifyUpdate, formatVerdict, liveWritable, parseUpdates, pusherFromEnv,
  type Pusher, type RefUpdate, type UpdateFacts,
} from '../../repos/receive.ts';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const Z = '0'.repeat(40);
const op: Pusher = { kind: 'operator', name: 'op' };
const local: Pusher = { kind: 'local', name: 'local' };
const alice: Pusher = { kind: 'agent', name: 'alice' };
const manager: Pusher = { kind: 'agent', name: 'manager' };
const controller: Pusher = { kind: 'controller', name: 'hyperhive' };
const upd = (ref: string, old = A, next = B): RefUpdate => ({ ref, old, new: next });
const facts = (over: Partial<UpdateFacts> = {}): UpdateFacts => ({ fastForward: true, changes: [], contents: {}, oversized: [], ...over });

test('only proposed and live may be pushed, neither deleted; the controller may move other refs', (t) => {
  t.deepEqual(classifyUpdate(op, 'alice', upd('refs/heads/proposed')), { kind: 'check', branch: 'proposed' });
  t.deepEqual(classifyUpdate(op, 'alice', upd('refs/heads/live')), { kind: 'check', branch: 'live' });
  const applied = classifyUpdate(op, 'alice', upd('refs/heads/applied'));
  t.is(applied.kind, 'refuse');
  t.regex((applied as { reason: string }).reason, /applied is moved only by the controller/);
  t.regex((classifyUpdate(local, 'alice', upd('refs/tags/v1')) as { reason: string }).reason, /tags are not accepted/);
  t.regex((classifyUpdate(op, 'alice', upd('refs/heads/main')) as { reason: string }).reason, /not refs\/heads\/main/);
  t.regex((classifyUpdate(op, 'alice', upd('refs/heads/proposed', A, Z)) as { reason: string }).reason, /proposed may not be deleted/);
  t.regex((classifyUpdate(controller, 'alice', upd('refs/heads/live', A, Z)) as { reason: string }).reason, /live may not be deleted/);
  t.deepEqual(classifyUpdate(controller, 'alice', upd('refs/heads/applied')), { kind: 'unchecked' });
  t.regex((classifyUpdate({ kind: 'agent', name: 'bob' }, 'alice', upd('refs/heads/proposed')) as { reason: string }).reason, /agent bob may not push to agent alice's repo/);
  t.deepEqual(classifyUpdate(manager, 'alice', upd('refs/heads/proposed')), { kind: 'check', branch: 'proposed' });
});

test('live writers follow DESIGN.md', (t) => {
  t.deepEqual([...liveWritable(op, 'manager')].sort(), ['model', 'notes.md']);
  t.deepEqual([...liveWritable(local, 'alice')].sort(), ['model', 'notes.md']);
  t.deepEqual([...liveWritable(alice, 'alice')], ['notes.md']);
  t.deepEqual([...liveWritable(manager, 'alice')].sort(), ['model', 'notes.md']);
  t.deepEqual([...liveWritable(manager, 'manager')], ['notes.md']);
  t.deepEqual([...liveWritable({ kind: 'agent', name: 'bob' }, 'alice')], []);
});

test('live: only forward, only notes.md and model, model well-formed', (t) => {
  const live = (p: Pusher, agent: string, f: UpdateFacts) => checkUpdate(p, agent, 'live', upd('refs/heads/live'), f).reasons;
  t.deepEqual(live(alice, 'alice', facts({ changes: [{ path: 'notes.md', status: 'M' }] })), []);
  t.regex(live(alice, 'alice', facts({ fastForward: false, changes: [{ path: 'notes.md', status: 'M' }] }))[0]!, /live only moves forward/);
  t.regex(live(alice, 'alice', facts({ changes: [{ path: 'model', status: 'M' }], contents: { model: 'opus\n' } }))[0]!, /may not change the model of alice/);
  t.regex(live(manager, 'manager', facts({ changes: [{ path: 'model', status: 'M' }], contents: { model: 'opus\n' } }))[0]!, /only an operator may change the manager's model/);
  t.deepEqual(live(manager, 'alice', facts({ changes: [{ path: 'model', status: 'M' }], contents: { model: 'claude-opus-4-1\n' } })), []);
  t.deepEqual(live(op, 'manager', facts({ changes: [{ path: 'model', status: 'M' }], contents: { model: 'opus' } })), []);
  t.regex(live(op, 'alice', facts({ changes: [{ path: 'model', status: 'M' }], contents: { model: 'two\nlines\n' } }))[0]!, /model must be one line matching/);
  t.regex(live(op, 'alice', facts({ changes: [{ path: 'model', status: 'A' }], contents: { model: '' } }))[0]!, /model must be one line/);
  t.regex(live(op, 'alice', facts({ changes: [{ path: 'agent.nix', status: 'A' }] }))[0]!, /on live only notes.md and model may change, not agent.nix/);
  // A creation (old zero) is not a rewrite.
  t.deepEqual(checkUpdate(op, 'alice', 'live', upd('refs/heads/live', Z, B), facts({ fastForward: true, changes: [{ path: 'notes.md', status: 'A' }] })).reasons, []);
});

test('proposed: no notes.md or model, agent.nix parses, hyperhive.json valid, force-push accepted', (t) => {
  const prop = (f: UpdateFacts, p: Pusher = alice) => checkUpdate(p, 'alice', 'proposed', upd('refs/heads/proposed'), f);
  t.deepEqual(prop(facts({ fastForward: false, changes: [{ path: 'prompt.md', status: 'M' }] })).reasons, []);
  t.regex(prop(facts({ changes: [{ path: 'notes.md', status: 'A' }] })).reasons[0]!, /notes.md does not belong on proposed.*refs\/heads\/live/);
  t.regex(prop(facts({ changes: [{ path: 'model', status: 'A' }] }), op).reasons[0]!, /model does not belong on proposed/);
  t.regex(prop(facts({ changes: [{ path: 'agent.nix', status: 'M' }], agentNix: { ok: false, error: "syntax error, unexpected ';'" } })).reasons[0]!, /agent.nix does not parse: syntax error/);
  const skipped = prop(facts({ changes: [{ path: 'agent.nix', status: 'M' }], agentNix: { skipped: 'nix-instantiate not found' } }));
  t.deepEqual(skipped.reasons, []);
  t.deepEqual(skipped.notices, ['agent.nix parse check skipped: nix-instantiate not found']);
  t.regex(prop(facts({ changes: [{ path: 'hyperhive.json', status: 'M' }], contents: { 'hyperhive.json': '{"tools":{"allow":["Edit"]},"x":1}' } })).reasons[0]!, /unknown key "x"/);
  t.deepEqual(prop(facts({ changes: [{ path: 'hyperhive.json', status: 'M' }], contents: { 'hyperhive.json': '{"tools":{"allow":["Bash(git *)"]}}' } })).reasons, []);
  // Deleting hyperhive.json is not validating it.
  t.deepEqual(prop(facts({ changes: [{ path: 'hyperhive.json', status: 'D' }] })).reasons, []);
  t.regex(prop(facts({ oversized: [{ path: 'big.bin', size: 60_000_000 }] })).reasons[0]!, /big.bin is 60000000 bytes, over the file size limit of 52428800 bytes/);
});

test('hook plumbing: stdin lines, pusher from env, output lines', (t) => {
  t.deepEqual(parseUpdates(`${A} ${B} refs/heads/proposed\n${Z} ${A} refs/tags/v1\ngarbage\n`), [
    { old: A, new: B, ref: 'refs/heads/proposed' }, { old: Z, new: A, ref: 'refs/tags/v1' },
  ]);
  t.deepEqual(pusherFromEnv({}), { kind: 'local', name: 'local' });
  t.deepEqual(pusherFromEnv({ HYPERHIVE_PUSHER: 'alice', HYPERHIVE_PUSHER_KIND: 'agent' }), alice);
  t.deepEqual(pusherFromEnv({ HYPERHIVE_PUSHER: 'x', HYPERHIVE_PUSHER_KIND: 'root' }), { kind: 'local', name: 'x' });
  t.deepEqual(formatVerdict({ refusals: [{ ref: 'refs/heads/live', reason: 'no' }], notices: ['note'] }), [
    'hyperhive: note', 'hyperhive: refused live: no', 'hyperhive: push refused, nothing was changed',
  ]);
  t.deepEqual(formatVerdict({ refusals: [], notices: [] }), []);
});

test('symlinks and gitlinks are refused on proposed and on live, naming the path; deleting one is fine', (t) => {
  const prop = (changes: UpdateFacts['changes'], p: Pusher = alice) => checkUpdate(p, 'alice', 'proposed', upd('refs/heads/proposed'), facts({ changes })).reasons;
  t.regex(prop([{ path: 'prompt.md', status: 'A', mode: '120000' }])[0]!, /^prompt\.md is a symbolic link \(mode 120000\): only regular files/);
  t.regex(prop([{ path: 'prompt.md', status: 'T', mode: '120000' }], op)[0]!, /prompt\.md is a symbolic link/, 'a file turned into a link, even by an operator');
  t.regex(prop([{ path: 'sub/dir/x', status: 'M', mode: '120000' }])[0]!, /^sub\/dir\/x is a symbolic link/);
  t.regex(prop([{ path: 'vendor/lib', status: 'A', mode: '160000' }])[0]!, /^vendor\/lib is a gitlink \(mode 160000, a submodule\)/);
  t.deepEqual(prop([{ path: 'old-link', status: 'D' }, { path: 'run.sh', status: 'A', mode: '100755' }, { path: 'a.md', status: 'M', mode: '100644' }]), []);
  const live = checkUpdate(alice, 'alice', 'live', upd('refs/heads/live'), facts({ changes: [{ path: 'notes.md', status: 'T', mode: '120000' }] })).reasons;
  t.deepEqual(live.length, 1);
  t.regex(live[0]!, /notes\.md is a symbolic link/);
});
