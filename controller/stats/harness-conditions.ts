import type { DB } from '../db/open.ts';
import type { Condition } from '../reconciler/types.ts';

/** Why an agent is Stalled for reasons the reconciler cannot observe (they come from turn reports and the stuck detector). */
export type HarnessReason = 'AuthFailed' | 'AgentCliMissing' | 'Stuck';
export const HARNESS_REASONS: readonly HarnessReason[] = ['AuthFailed', 'AgentCliMissing', 'Stuck'];

export interface HarnessCondition { reason: HarnessReason; message: string; since: number }

/**
 * The reconciler's conditions with the harness's on top; pure. A harness stall makes the agent
 * Stalled=True and Ready=False with its reason, unless the reconciler already stalls it (its reason
 * is about the config and is kept; the harness's message is appended). The most severe reason wins.
 */
export function mergeHarnessConditions(base: Condition[], extra: HarnessCondition[]): Condition[] {
  if (!extra.length) return base;
  const top = [...extra].sort((a, b) => HARNESS_REASONS.indexOf(a.reason) - HARNESS_REASONS.indexOf(b.reason))[0]!;
  const more = extra.filter((e) => e !== top).map((e) => `; also ${e.reason}: ${e.message}`).join('');
  const out: Condition[] = [];
  let stalled = false;
  let ready = false;
  for (const c of base) {
    if (c.type === 'Stalled') {
      stalled = true;
      out.push(c.status === 'True' ? { ...c, message: `${c.message}; also ${top.reason}: ${top.message}${more}` } : { type: 'Stalled', status: 'True', reason: top.reason, message: top.message + more });
    } else if (c.type === 'Ready') {
      ready = true;
      out.push(c.status === 'True' ? { type: 'Ready', status: 'False', reason: top.reason, message: top.message } : c);
    } else out.push(c);
  }
  if (!ready) out.unshift({ type: 'Ready', status: 'False', reason: top.reason, message: top.message });
  if (!stalled) out.push({ type: 'Stalled', status: 'True', reason: top.reason, message: top.message + more });
  return out;
}

/** Per-agent harness conditions, kept in sqlite (agent_harness) and cached. */
export class HarnessConditions {
  private cache = new Map<string, HarnessCondition[]>();
  private changes = 0;
  /** Moves on every change of any agent's harness conditions. */
  get version(): number { return this.changes; }

  constructor(private readonly db: DB, private readonly now: () => number = Date.now) {
    for (const r of db.prepare('SELECT agent, reason, message, since FROM agent_harness ORDER BY since').all() as (HarnessCondition & { agent: string })[]) {
      const l = this.cache.get(r.agent) ?? [];
      l.push({ reason: r.reason, message: r.message, since: r.since });
      this.cache.set(r.agent, l);
    }
  }

  get(agent: string): HarnessCondition[] { return this.cache.get(agent) ?? []; }

  has(agent: string, reason: HarnessReason): boolean { return this.get(agent).some((c) => c.reason === reason); }

  /** Sets (or updates the message of) one reason; true when it was not set before or its message changed. */
  set(agent: string, reason: HarnessReason, message: string): boolean {
    const msg = message.slice(0, 1000);
    const cur = this.get(agent).find((c) => c.reason === reason);
    if (cur && cur.message === msg) return false;
    const since = cur?.since ?? this.now();
    this.db.prepare('INSERT INTO agent_harness (agent, reason, message, since) VALUES (?, ?, ?, ?) ON CONFLICT (agent, reason) DO UPDATE SET message = excluded.message')
      .run(agent, reason, msg, since);
    this.cache.set(agent, [...this.get(agent).filter((c) => c.reason !== reason), { reason, message: msg, since }]);
    this.changes += 1;
    return true;
  }

  /** Clears the given reasons (default: all); true when something was cleared. */
  clear(agent: string, reasons: readonly HarnessReason[] = HARNESS_REASONS): boolean {
    const cur = this.get(agent);
    const keep = cur.filter((c) => !reasons.includes(c.reason));
    if (keep.length === cur.length) return false;
    const del = this.db.prepare('DELETE FROM agent_harness WHERE agent = ? AND reason = ?');
    this.db.transaction(() => { for (const c of cur) if (reasons.includes(c.reason)) del.run(agent, c.reason); })();
    if (keep.length) this.cache.set(agent, keep); else this.cache.delete(agent);
    this.changes += 1;
    return true;
  }

  merge(agent: string, base: Condition[]): Condition[] { return mergeHarnessConditions(base, this.get(agent)); }
}
