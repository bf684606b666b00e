import test from 'ava';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDb, type DB } from '../../controller/db/open.ts';
import { RefEventReader, type RefEvent } from '../../controller/reconciler/ref-events.ts';

const dirs: string[] = [];
const dbs: DB[] = [];
test.after.always(() => {
  for (const db of dbs) db.close();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function setup() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hh-ref-events-'));
  dirs.push(dir);
  const db = openDb(path.join(dir, 'hyperhive.db'));
  dbs.push(db);
  const file = path.join(dir, 'events', 'refs.jsonl');
  fs.mkdirSync(path.dirname(file));
  return { dir, db, file };
}

const line = (agent: string, sha: string, pusher = 'alice'): string => `${JSON.stringify({ agent, ref: 'refs/heads/proposed', old: '', new: sha, pusher, ts: 1 })}\n`;
const meta = (db: DB, key: string): string | undefined => (db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value;
const count = (db: DB): number => (db.prepare('SELECT count(*) AS n FROM ref_events').get() as { n: number }).n;
const inode = (f: string): number | null => { try { return fs.statSync(f).ino; } catch { return null; } };

test('each complete line is read once; a partial line waits; no file is no events', (t) => {
  const { db, file } = setup();
  const r = new RefEventReader(db, file);
  t.deepEqual(r.read(), []);
  fs.appendFileSync(file, line('a', 's1') + line('b', 's2', 'bob') + '{"agent":"a","ref":"refs/heads/pro');
  t.deepEqual(r.read().map((e) => e.new), ['s1', 's2']);
  t.deepEqual(r.read(), []);
  fs.appendFileSync(file, 'posed","old":"","new":"s3","pusher":"carol","ts":5}\nnot json\n');
  const e3 = r.read();
  t.deepEqual(e3, [{ agent: 'a', ref: 'refs/heads/proposed', old: '', new: 's3', pusher: 'carol', ts: 5 }]);
  t.is(count(db), 3);
  t.is(r.pusherOf('b', 'refs/heads/proposed', 's2'), 'bob');
  t.is(r.pusherOf('b', 'refs/heads/proposed', 'nope'), null);
  // a new reader on the same db (a restarted controller) resumes at the stored offset
  fs.appendFileSync(file, line('a', 's4'));
  t.deepEqual(new RefEventReader(db, file).read().map((e) => e.new), ['s4']);
  t.is(count(db), 4);
});

test('rotation: a fully read file over the threshold becomes refs.jsonl.1; a line written through a descriptor opened before the rename is still read, once', (t) => {
  const { db, file } = setup();
  const r = new RefEventReader(db, file, { rotateBytes: 100, rotateGraceMs: 0 });
  fs.appendFileSync(file, line('a', 's1') + line('a', 's2'));
  // a hook that opened the file for its line just before the rotation
  const late = fs.openSync(file, 'a');
  const first = inode(file);
  t.deepEqual(r.read().map((e) => e.new), ['s1', 's2']);
  t.false(fs.existsSync(file), 'renamed; the next hook line creates a new file');
  t.is(inode(r.rotated), first);
  fs.writeSync(late, line('a', 'late'));
  fs.closeSync(late);
  fs.appendFileSync(file, line('a', 's3'));
  t.deepEqual(r.read().map((e) => e.new), ['late', 's3'], 'the old file first, then the new one');
  t.deepEqual(r.read(), []);
  t.is(count(db), 4);
  t.is(meta(db, 'ref_events_offset'), String(line('a', 's3').length));
  t.is(Number(meta(db, 'ref_events_rotated_offset')), fs.statSync(r.rotated).size);
  t.is(r.pusherOf('a', 'refs/heads/proposed', 'late'), 'alice');
  // a second rotation replaces the older .1
  fs.appendFileSync(file, line('a', 's4') + line('a', 's5'));
  const second = inode(file);
  t.deepEqual(r.read().map((e) => e.new), ['s4', 's5']);
  t.is(inode(r.rotated), second);
  t.false(fs.existsSync(file));
  fs.appendFileSync(file, line('a', 's6'));
  t.deepEqual(r.read().map((e) => e.new), ['s6']);
  t.is(count(db), 7);
});

test('rotation waits for a fully read file, and for rotateGraceMs after the previous one', (t) => {
  const { db, file } = setup();
  let now = 1_000_000;
  const r = new RefEventReader(db, file, { rotateBytes: 100, rotateGraceMs: 5_000, now: () => now });
  fs.appendFileSync(file, line('a', 's1') + '{"partial');
  t.deepEqual(r.read().map((e) => e.new), ['s1']);
  t.true(fs.existsSync(file), 'not rotated: a partial line is still to be read');
  fs.appendFileSync(file, '":1}\n');
  r.read();
  t.false(fs.existsSync(file), 'rotated once fully read');
  fs.appendFileSync(file, line('a', 's2') + line('a', 's3'));
  now += 4_000;
  t.deepEqual(r.read().map((e) => e.new), ['s2', 's3']);
  t.true(fs.existsSync(file), 'the previous rotation is too recent: a late line may still go to refs.jsonl.1');
  now += 1_000;
  t.deepEqual(r.read(), []);
  t.false(fs.existsSync(file), 'rotated after the grace');
  t.is(count(db), 3);
});

test('killed between the rename and the offset update: the offset follows its file to refs.jsonl.1', (t) => {
  const { db, file } = setup();
  const r = new RefEventReader(db, file);
  fs.appendFileSync(file, line('a', 's1') + line('a', 's2'));
  t.is(r.read().length, 2);
  // what rotate() does, without its offset update
  fs.renameSync(file, r.rotated);
  fs.appendFileSync(r.rotated, line('a', 'late'));
  fs.appendFileSync(file, line('a', 'n1') + line('a', 'n2') + line('a', 'n3'));
  const again = new RefEventReader(db, file);
  t.deepEqual(again.read().map((e) => e.new), ['late', 'n1', 'n2', 'n3']);
  t.deepEqual(again.read(), []);
  t.is(count(db), 6);
});

test('an offset stored before file ids is kept for the current file; a file replaced by hand is read from its start', (t) => {
  const { db, file } = setup();
  fs.appendFileSync(file, line('a', 'old1') + line('a', 'old2') + line('a', 'new1'));
  db.prepare("INSERT INTO meta (key, value) VALUES ('ref_events_offset', ?)").run(String(2 * line('a', 'old1').length));
  const r = new RefEventReader(db, file);
  t.deepEqual(r.read().map((e) => e.new), ['new1']);
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, line('b', 'x1') + line('b', 'x2') + line('b', 'x3') + line('b', 'x4'));
  fs.renameSync(tmp, file);
  t.deepEqual(r.read().map((e) => e.new), ['x1', 'x2', 'x3', 'x4']);
});

test('concurrent shell appenders and forced rotations: every line is read exactly once', async (t) => {
  const { db, file } = setup();
  const r = new RefEventReader(db, file, { rotateBytes: 6 * 1024, rotateGraceMs: 300 });
  const WRITERS = 4;
  const LINES = 1000;
  // The hook's own way of writing: one printf per line, `>>` opening the file by path each time.
  const script = `i=1; while [ $i -le ${LINES} ]; do
    printf '{"agent":"w%s","ref":"refs/heads/proposed","old":"","new":"%s","pusher":"p%s","ts":1}\\n' "$W" "$i" "$W" >>"$F"
    [ $((i % 50)) -eq 0 ] && sleep 0.05
    i=$((i+1)); done`;
  const exits = Array.from({ length: WRITERS }, (_, k) => new Promise<number | null>((resolve, reject) => {
    const c = spawn('sh', ['-c', script], { env: { ...process.env, W: String(k), F: file }, stdio: 'ignore' });
    c.on('error', reject);
    c.on('exit', (code) => resolve(code));
  }));
  let running = true;
  const done = Promise.all(exits).finally(() => { running = false; });
  const seen: RefEvent[] = [];
  // Consecutive rotated files differ in inode (the new one was created while the old one existed).
  let rotations = 0;
  let lastRotated: number | null = null;
  while (running) {
    seen.push(...r.read());
    const ino = inode(r.rotated);
    if (ino !== null && ino !== lastRotated) { rotations++; lastRotated = ino; }
    await new Promise((res) => setTimeout(res, 3));
  }
  t.deepEqual(await done, Array(WRITERS).fill(0));
  for (let empty = 0; empty < 2;) {
    const more = r.read();
    seen.push(...more);
    empty = more.length ? 0 : empty + 1;
  }
  t.log(`${rotations} rotations seen, ${seen.length} lines read`);
  t.true(rotations >= 2, 'the file was rotated while the writers appended');
  const counts = new Map<string, number>();
  for (const e of seen) counts.set(`${e.agent}/${e.new}`, (counts.get(`${e.agent}/${e.new}`) ?? 0) + 1);
  const missing: string[] = []; const twice: string[] = [];
  for (let k = 0; k < WRITERS; k++) {
    for (let i = 1; i <= LINES; i++) {
      const n = counts.get(`w${k}/${i}`) ?? 0;
      if (n === 0) missing.push(`w${k}/${i}`);
      if (n > 1) twice.push(`w${k}/${i}`);
    }
  }
  t.deepEqual(missing, [], 'no line lost');
  t.deepEqual(twice, [], 'no line read twice');
  t.is(seen.length, WRITERS * LINES);
  t.is(count(db), WRITERS * LINES, 'and each stored once');
  t.is(r.pusherOf('w2', 'refs/heads/proposed', String(LINES)), 'p2');
});

test('prune deletes only events both old and beyond the newest N of their agent and ref', (t) => {
  const { db, file } = setup();
  const r = new RefEventReader(db, file);
  const DAY = 24 * 3600_000;
  const now = 100 * DAY;
  const ins = db.prepare('INSERT INTO ref_events (agent, ref, old, new, pusher, ts) VALUES (?, ?, ?, ?, ?, ?)');
  for (let i = 0; i < 5; i++) ins.run('a', 'refs/heads/proposed', '', `old${i}`, 'p', now - 60 * DAY + i);
  for (let i = 0; i < 3; i++) ins.run('a', 'refs/heads/proposed', '', `new${i}`, 'p', now - DAY + i);
  ins.run('a', 'refs/heads/live', '', 'live0', 'p', now - 90 * DAY);
  ins.run('b', 'refs/heads/proposed', '', 'b0', 'p', now - 90 * DAY);
  t.is(r.prune({ now, olderThanMs: 30 * DAY, keepPerRef: 4 }), 4, 'old0..old3 of a/proposed go');
  const left = (db.prepare('SELECT new FROM ref_events ORDER BY id').all() as { new: string }[]).map((x) => x.new);
  t.deepEqual(left, ['old4', 'new0', 'new1', 'new2', 'live0', 'b0']);
  t.is(r.pusherOf('a', 'refs/heads/live', 'live0'), 'p', "every ref's latest events are kept however old");
  t.is(r.prune({ now, olderThanMs: 30 * DAY, keepPerRef: 0 }), 3);
  t.deepEqual((db.prepare('SELECT new FROM ref_events ORDER BY id').all() as { new: string }[]).map((x) => x.new), ['new0', 'new1', 'new2']);
});

test('pusherOf: an answer (even "nobody") is held only until the reader stores new events', (t) => {
  const { db, file } = setup();
  const r = new RefEventReader(db, file);
  t.is(r.pusherOf('a', 'refs/heads/proposed', 's1'), null, 'not read yet');
  fs.appendFileSync(file, line('a', 's1', 'alice'));
  t.is(r.pusherOf('a', 'refs/heads/proposed', 's1'), null, 'in the file, not yet stored: still nobody');
  r.read();
  t.is(r.pusherOf('a', 'refs/heads/proposed', 's1'), 'alice');
  fs.appendFileSync(file, line('a', 's1', 'bob'));
  r.read();
  t.is(r.pusherOf('a', 'refs/heads/proposed', 's1'), 'bob', 'the latest push of that sha');
});
