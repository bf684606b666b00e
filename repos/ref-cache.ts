import fs from 'node:fs';
import { readRefs } from './refs.ts';

export interface BranchRefs { proposed: string | null; applied: string | null; live: string | null }

export interface RefCacheOptions {
  /**
   * The longest a read is kept even while the journal stands still (default 2 s): a ref written
   * past git (by hand, with hooks switched off) moves no journal, and still shows within this.
   */
  maxAgeMs?: number;
  now?: () => number;
}

interface Entry { mark: string; gen: string | number; at: number; refs: BranchRefs }

/**
 * The three branches of many repos for display (the fleet listing reads 50 agents' refs per page), read
 * again only when the ref journal moved. The journal (events/refs.jsonl) gets a line from the
 * reference-transaction hook of every agent repo after each committed branch move (pushes, update-ref,
 * the controller's own compare-and-swap), before the git command that moved it returns. So a cached
 * read taken under the journal's current mark is what the files say now. The mark is taken before the
 * files are read: a move between the two gives a newer mark, and the next read reads again.
 *
 * Decisions (the reconciler, approvals) read the files themselves (readRefs); this is the view's cache.
 */
export class RefCache {
  private readonly entries = new Map<string, Entry>();
  private readonly maxAgeMs: number;
  private readonly now: () => number;
  constructor(private readonly journal: string, o: RefCacheOptions = {}) {
    this.maxAgeMs = o.maxAgeMs ?? 2000;
    this.now = o.now ?? Date.now;
  }

  /** The journal's identity, size and mtime now (one stat): a listing takes it once for all its rows. */
  mark(): string {
    try {
      const st = fs.statSync(this.journal);
      return `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      return 'none';
    }
  }

  /**
   * `gen` names the repo's incarnation (the agent record's creation time): a repo is created with its
   * branches before its hooks are installed, so a purged agent's name made again moves no journal.
   */
  async read(repo: string, gen: string | number, mark: string = this.mark()): Promise<BranchRefs> {
    const e = this.entries.get(repo);
    const now = this.now();
    if (e && e.mark === mark && e.gen === gen && now - e.at < this.maxAgeMs) return e.refs;
    const refs = await readRefs(repo);
    // A journal that moved meanwhile leaves this entry under the older mark: read again next time.
    this.entries.set(repo, { mark, gen, at: now, refs });
    return refs;
  }

  /** Drops a repo's entry (its agent was purged). */
  forget(repo: string): void { this.entries.delete(repo); }
}
