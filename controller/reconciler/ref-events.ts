import fs from 'node:fs';
import path from 'node:path';
import type { DB } from '../db/open.ts';

export interface RefEvent { agent: string; ref: string; old: string; new: string; pusher: string; ts: number }

/**
 * Reads what the reference-transaction hooks appended to events/refs.jsonl since the last read and
 * stores it in sqlite. The file is the durable record of who moved a ref, even while the controller
 * is down; the stored offset makes each line count once.
 */
export class RefEventReader {
  private reading = false;
  constructor(private db: DB, private file: string) {}

  private offset(): number {
    const r = this.db.prepare("SELECT value FROM meta WHERE key = 'ref_events_offset'").get() as { value: string } | undefined;
    return r ? Number(r.value) : 0;
  }

  /** Returns the events read now (also stored). Partial trailing lines wait for the next read. */
  read(): RefEvent[] {
    if (this.reading) return [];
    this.reading = true;
    try {
      let size: number;
      try { size = fs.statSync(this.file).size; } catch { return []; }
      let off = this.offset();
      if (size < off) off = 0; // rotated or truncated by hand
      if (size === off) return [];
      const fd = fs.openSync(this.file, 'r');
      const buf = Buffer.alloc(size - off);
      try { fs.readSync(fd, buf, 0, buf.length, off); } finally { fs.closeSync(fd); }
      const end = buf.lastIndexOf(0x0a);
      if (end < 0) return [];
      const events: RefEvent[] = [];
      for (const line of buf.subarray(0, end).toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        try {
          const e = JSON.parse(line) as RefEvent;
          if (typeof e.agent === 'string' && typeof e.ref === 'string' && typeof e.new === 'string') events.push({ ...e, pusher: e.pusher || 'local', ts: Number(e.ts) || Date.now() });
        } catch { /* a torn or foreign line: skip it, the resync still sees the refs */ }
      }
      const ins = this.db.prepare('INSERT INTO ref_events (agent, ref, old, new, pusher, ts) VALUES (?, ?, ?, ?, ?, ?)');
      this.db.transaction(() => {
        for (const e of events) ins.run(e.agent, e.ref, e.old ?? '', e.new, e.pusher, e.ts);
        this.db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('ref_events_offset', ?)").run(String(off + end + 1));
      })();
      return events;
    } finally {
      this.reading = false;
    }
  }

  /** Who moved `ref` of `agent` to `sha` (the latest such event), or null when no hook saw it. */
  pusherOf(agent: string, ref: string, sha: string): string | null {
    const r = this.db.prepare('SELECT pusher FROM ref_events WHERE agent = ? AND ref = ? AND new = ? ORDER BY id DESC LIMIT 1').get(agent, ref, sha) as { pusher: string } | undefined;
    return r?.pusher ?? null;
  }

  /** Calls onChange on every change in the events dir: only a hint, the reader decides what is new. */
  watch(onChange: () => void): () => void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    let w: fs.FSWatcher | null = null;
    try { w = fs.watch(path.dirname(this.file), () => onChange()); } catch { /* resync timer still covers it */ }
    return () => w?.close();
  }
}
