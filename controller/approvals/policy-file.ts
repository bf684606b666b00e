import fs from 'node:fs';
import path from 'node:path';
import type { EventStream } from '../events.ts';
import type { ReconLog } from '../log.ts';
import { NO_RULES, parseQuorumRules, type QuorumRules } from './quorum.ts';

export interface PolicyStatus {
  file: string;
  /** The rules in force: the file's, or the last good ones while the file is bad. */
  rules: QuorumRules;
  /** Whether the file exists (absent: no rules, one approval decides). */
  present: boolean;
  loadedAt: number | null;
  /** Why the file on disk is not in force (it keeps the last good rules), or null. */
  error: string | null;
}

/**
 * `<state>/policy.json`, validated at start (a bad file stops the start, naming the problem: a typo
 * must never silently lower a quorum) and whenever it changes (a bad edit keeps the last good rules
 * and says why, in the log, on the policy page and in GET /api/policy). Watched with fs.watch on its
 * directory, and checked again by `check()` (the periodic resync) since a watcher is only a hint.
 */
export class PolicyFile {
  private state: PolicyStatus;
  private watcher: fs.FSWatcher | null = null;
  private lastText: string | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly file: string, private readonly d: { log: ReconLog; events: EventStream; now?: () => number }) {
    this.state = { file, rules: NO_RULES, present: false, loadedAt: null, error: null };
    this.reload(true);
  }

  get rules(): QuorumRules { return this.state.rules; }
  get status(): PolicyStatus { return { ...this.state }; }

  /** Reads the file again if its text changed. `strict` (at start): a bad file throws. */
  reload(strict = false): void {
    let text: string | null;
    try { text = fs.readFileSync(this.file, 'utf8'); } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      text = null;
    }
    if (text === this.lastText && !strict) return;
    this.lastText = text;
    const now = (this.d.now ?? Date.now)();
    if (text === null) {
      const had = this.state.present;
      this.state = { file: this.file, rules: NO_RULES, present: false, loadedAt: now, error: null };
      if (had) { this.d.log.warn(null, 'policy', `${this.file} was removed: no quorum rules, one approval decides`); this.d.events.publish({ type: 'policy.changed', error: null }); }
      return;
    }
    try {
      const rules = parseQuorumRules(text, this.file);
      this.state = { file: this.file, rules, present: true, loadedAt: now, error: null };
      this.d.log.info(null, 'policy', `${this.file}: ${rules.quorum.length} quorum rule(s) in force`, { rules: rules.quorum.length });
      if (!strict) this.d.events.publish({ type: 'policy.changed', error: null });
    } catch (e) {
      if (strict) throw e;
      this.state = { ...this.state, present: true, error: (e as Error).message };
      this.d.log.error(null, 'policy', `${(e as Error).message}; the last good rules stay in force (${this.state.rules.quorum.length} rule(s))`);
      this.d.events.publish({ type: 'policy.changed', error: (e as Error).message });
    }
  }

  /** Watches the file's directory for changes (a hint: `reload` compares the text). */
  watch(): void {
    if (this.watcher) return;
    const base = path.basename(this.file);
    try {
      this.watcher = fs.watch(path.dirname(this.file), (_ev, name) => {
        if (name && name.toString() !== base) return;
        // Editors write in steps (truncate, write, rename): read once things settle.
        if (this.timer) clearTimeout(this.timer);
        this.timer = setTimeout(() => { this.timer = null; this.safeReload(); }, 50);
      });
      this.watcher.on('error', () => { this.watcher?.close(); this.watcher = null; });
    } catch { /* no watcher: the periodic check still reads it */ }
  }

  /** The periodic check: never throws. */
  safeReload(): void {
    try { this.reload(); } catch (e) { this.d.log.warn(null, 'policy', `cannot read ${this.file}: ${(e as Error).message}`); }
  }

  close(): void {
    this.watcher?.close();
    this.watcher = null;
    if (this.timer) clearTimeout(this.timer);
  }
}
