import fs from 'node:fs';
import path from 'node:path';
import type { DB } from '../db/open.ts';

export interface RefEvent { agent: string; ref: string; old: string; new: string; pusher: string; ts: number }

export interface RefEventReaderOptions {
  /** Rotate events/refs.jsonl to refs.jsonl.1 once it is fully read and at least this big (default 8 MiB). */
  rotateBytes?: number;
  /**
   * Minimum time between two rotations (default 10 s). A hook opens the file for one line only, but a
   * hook that opened it just before a rotation may write into refs.jsonl.1 afterwards; the next
   * rotation replaces that file, so it waits until such a late line has surely been written and read.
   */
  rotateGraceMs?: number;
  now?: () => number;
}

/** Where the reader is in one file; `id` (device:inode) tells which file the offset belongs to. */
interface Cursor { id: string | null; off: number }
interface Cursors { cur: Cursor; rot: Cursor & { at: number } }
interface OpenFile { fd: number; id: string; size: number }

const KEYS = {
  off: 'ref_events_offset', id: 'ref_events_file',
  rotOff: 'ref_events_rotated_offset', rotId: 'ref_events_rotated_file', rotAt: 'ref_events_rotated_at',
} as const;

/** Bytes read from one file per read(): a file left huge by an older version is caught up over several reads. */
const MAX_CHUNK = 16 * 1024 * 1024;

function openIfExists(file: string): OpenFile | null {
  let fd: number;
  try { fd = fs.openSync(file, 'r'); } catch { return null; }
  try {
    const st = fs.fstatSync(fd, { bigint: true });
    return { fd, id: `${st.dev}:${st.ino}`, size: Number(st.size) };
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
}

/** Complete lines of `f` from `from` on, and the offset after the last one (a partial trailing line waits). */
function readLines(f: OpenFile, from: number): { events: RefEvent[]; next: number } {
  const len = Math.min(f.size - from, MAX_CHUNK);
  if (len <= 0) return { events: [], next: from };
  const buf = Buffer.alloc(len);
  const got = fs.readSync(f.fd, buf, 0, len, from);
  const end = buf.subarray(0, got).lastIndexOf(0x0a);
  if (end < 0) {
    // A full chunk without a newline is not a line any hook writes: skip it rather than stall on it.
    return { events: [], next: got === MAX_CHUNK ? from + got : from };
  }
  const events: RefEvent[] = [];
  for (const line of buf.subarray(0, end).toString('utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line) as RefEvent;
      if (typeof e.agent === 'string' && typeof e.ref === 'string' && typeof e.new === 'string') events.push({ ...e, pusher: e.pusher || 'local', ts: Number(e.ts) || Date.now() });
    } catch { /* a torn or foreign line: skip it, the resync still sees the refs */ }
  }
  return { events, next: from + end + 1 };
}

/**
 * Reads what the reference-transaction hooks appended to events/refs.jsonl since the last read and
 * stores it in sqlite. The file is the durable record of who moved a ref, even while the controller
 * is down; the stored offsets make each line count once.
 *
 * Rotation: once the file is fully read and over `rotateBytes`, it is renamed to refs.jsonl.1 and the
 * hooks' next `>>` creates a new one. Lines a hook still writes into the renamed file are read from
 * refs.jsonl.1 at its own stored offset. Each offset is stored with the identity of its file, so a
 * controller killed between the rename and the offset update finds the file it was reading under its
 * new name instead of reading the new file from the old file's offset.
 */
export class RefEventReader {
  private reading = false;
  private pusherStmt: { get(...params: unknown[]): unknown } | null = null;
  /** pusherOf's answers; this reader is the only writer of ref_events, and clears them when it writes. */
  private readonly pushers = new Map<string, string | null>();
  readonly rotated: string;
  private rotateBytes: number;
  private graceMs: number;
  private now: () => number;

  constructor(private db: DB, private file: string, opts: RefEventReaderOptions = {}) {
    this.rotated = `${file}.1`;
    this.rotateBytes = opts.rotateBytes ?? 8 * 1024 * 1024;
    this.graceMs = opts.rotateGraceMs ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  private load(): Cursors {
    const rows = this.db.prepare(`SELECT key, value FROM meta WHERE key IN (${Object.values(KEYS).map(() => '?').join(', ')})`).all(...Object.values(KEYS)) as { key: string; value: string }[];
    const m = new Map(rows.map((r) => [r.key, r.value]));
    return {
      cur: { id: m.get(KEYS.id) || null, off: Number(m.get(KEYS.off) ?? 0) || 0 },
      rot: { id: m.get(KEYS.rotId) || null, off: Number(m.get(KEYS.rotOff) ?? 0) || 0, at: Number(m.get(KEYS.rotAt) ?? 0) || 0 },
    };
  }

  private save(c: Cursors): void {
    const put = this.db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)');
    put.run(KEYS.off, String(c.cur.off));
    put.run(KEYS.id, c.cur.id ?? '');
    put.run(KEYS.rotOff, String(c.rot.off));
    put.run(KEYS.rotId, c.rot.id ?? '');
    put.run(KEYS.rotAt, String(c.rot.at));
  }

  /** Returns the events read now (also stored), older file first. Partial trailing lines wait for the next read. */
  read(): RefEvent[] {
    if (this.reading) return [];
    this.reading = true;
    let cur: OpenFile | null = null;
    let rot: OpenFile | null = null;
    try {
      cur = openIfExists(this.file);
      rot = openIfExists(this.rotated);
      const c = this.load();
      const before = JSON.stringify(c);
      if (c.cur.id !== null && cur?.id !== c.cur.id) {
        // The file the offset belongs to is no longer refs.jsonl: renamed by a rotation whose offset
        // update did not happen (killed in between), or replaced by hand.
        if (rot && rot.id === c.cur.id) c.rot = { id: c.cur.id, off: c.cur.off, at: this.now() };
        c.cur = { id: null, off: 0 };
      }
      if (cur) {
        // No id: an offset stored before ids were (it is this file's), or a fresh start after a rotation.
        if (c.cur.id === null) c.cur.id = cur.id;
        if (cur.size < c.cur.off) c.cur.off = 0; // truncated by hand
      }
      const events: RefEvent[] = [];
      if (rot && rot.id === c.rot.id && rot.size > c.rot.off) {
        const r = readLines(rot, c.rot.off);
        events.push(...r.events);
        c.rot.off = r.next;
      }
      if (cur && cur.size > c.cur.off) {
        const r = readLines(cur, c.cur.off);
        events.push(...r.events);
        c.cur.off = r.next;
      }
      if (events.length || JSON.stringify(c) !== before) {
        const ins = this.db.prepare('INSERT INTO ref_events (agent, ref, old, new, pusher, ts) VALUES (?, ?, ?, ?, ?, ?)');
        this.db.transaction(() => {
          for (const e of events) ins.run(e.agent, e.ref, e.old ?? '', e.new, e.pusher, e.ts);
          this.save(c);
        })();
        if (events.length) this.pushers.clear();
      }
      if (cur && cur.size > 0 && c.cur.off === cur.size && cur.size >= this.rotateBytes && (c.rot.id === null || this.now() - c.rot.at >= this.graceMs)) this.rotate(cur, c);
      return events;
    } finally {
      if (cur) fs.closeSync(cur.fd);
      if (rot) fs.closeSync(rot.fd);
      this.reading = false;
    }
  }

  /**
   * Everything of `cur` up to its size is stored; whatever a hook appends from now on, before or after
   * the rename, lands past that offset in refs.jsonl.1 or in the new refs.jsonl.
   */
  private rotate(cur: OpenFile, c: Cursors): void {
    try { fs.renameSync(this.file, this.rotated); } catch { return; /* next read tries again */ }
    this.db.transaction(() => this.save({ cur: { id: null, off: 0 }, rot: { id: cur.id, off: c.cur.off, at: this.now() } }))();
  }

  /** Who moved `ref` of `agent` to `sha` (the latest such event), or null when no hook saw it. */
  pusherOf(agent: string, ref: string, sha: string): string | null {
    // The dashboard asks twice per row it shows: answers are held until this reader next writes the table.
    const k = `${agent}\0${ref}\0${sha}`;
    const known = this.pushers.get(k);
    if (known !== undefined) return known;
    this.pusherStmt ??= this.db.prepare('SELECT pusher FROM ref_events WHERE agent = ? AND ref = ? AND new = ? ORDER BY id DESC LIMIT 1');
    const r = this.pusherStmt.get(agent, ref, sha) as { pusher: string } | undefined;
    if (this.pushers.size >= 20_000) this.pushers.clear();
    this.pushers.set(k, r?.pusher ?? null);
    return r?.pusher ?? null;
  }

  /**
   * Deletes events both older than `olderThanMs` (default 30 days) and beyond the newest `keepPerRef`
   * (default 1000) of their agent and ref, so pusherOf still knows recent pushes and every ref's
   * latest ones however old. Returns the number of rows deleted.
   */
  prune(opts: { olderThanMs?: number; keepPerRef?: number; now?: number } = {}): number {
    const cutoff = (opts.now ?? this.now()) - (opts.olderThanMs ?? 30 * 24 * 3600_000);
    const keep = Math.max(0, Math.floor(opts.keepPerRef ?? 1000));
    this.pushers.clear();
    return this.db.prepare(`DELETE FROM ref_events WHERE id IN (
      SELECT id FROM (SELECT id, ts, ROW_NUMBER() OVER (PARTITION BY agent, ref ORDER BY id DESC) AS rn FROM ref_events)
      WHERE rn > ? AND ts < ?)`).run(keep, cutoff).changes;
  }

  /** Calls onChange on every change in the events dir: only a hint, the reader decides what is new. */
  watch(onChange: () => void): () => void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    let w: fs.FSWatcher | null = null;
    try { w = fs.watch(path.dirname(this.file), () => onChange()); } catch { /* resync timer still covers it */ }
    return () => w?.close();
  }
}
