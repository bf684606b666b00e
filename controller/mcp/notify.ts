import type { Approval } from '../approvals/store.ts';
import type { Bus } from '../bus/index.ts';
import type { Controller } from '../controller.ts';
import { MANAGER } from '../names.ts';

const DECIDED = new Set(['approved', 'rejected', 'failed']);
const short = (s: string | null | undefined): string => (s ? s.slice(0, 7) : 'none');

export interface SystemMessagesOptions {
  /** At most one crash message per agent per this many ms (a crash loop would flood the manager). */
  crashEveryMs?: number;
  now?: () => number;
}

/** The text an agent reads when one of its requests is decided. */
export function decisionText(a: Approval): string {
  const what = a.kind === 'change' ? `change request #${a.id} for ${a.agent} (${short(a.base)}..${short(a.head)})` : `${a.kind} request #${a.id} for ${a.agent}`;
  if (a.status === 'approved') {
    const effect = a.kind === 'change' ? `applied is now ${short(a.head)}; the runtime applies it` : a.kind === 'spawn' ? `${a.agent} is active at ${short(a.head)} and starts` : 'it takes effect now';
    return `${what} was approved by ${a.decidedBy ?? 'an operator'}: ${effect}.${a.note ? ` Note: ${a.note}` : ''}`;
  }
  if (a.status === 'rejected') return `${what} was rejected by ${a.decidedBy ?? 'an operator'}: ${a.reason ?? 'no reason given'}.`;
  return `${what} failed: ${a.error ?? 'unknown error'}.`;
}

/**
 * Messages from `system`: a decided request goes to its proposer and to the manager; a sub-agent's
 * process exiting goes to the manager, and makes whatever that agent had in hand come again. Every
 * stored message also becomes a controller 'change' event ({what: 'message', id, from, to, kind, agent}).
 * Returns the function that unhooks it all.
 */
export function wireSystemMessages(c: Controller, bus: Bus, o: SystemMessagesOptions = {}): () => void {
  const now = o.now ?? Date.now;
  const crashEveryMs = o.crashEveryMs ?? 60_000;
  // In memory: after a restart a decision is not announced twice, and a missed one is at worst missed.
  const told = new Set<string>();
  const lastCrash = new Map<string, number>();
  const send = (to: string, body: string) => {
    try { bus.send({ from: 'system', to, kind: 'event', body }); } catch (e) { c.log.warn(null, 'system-message', `cannot tell ${to}: ${(e as Error).message}`); }
  };
  const isAgent = (n: string | null): n is string => !!n && !!c.agents.get(n) && c.agents.get(n)!.state !== 'kept';

  const onChange = (e: { what?: string; id?: number }) => {
    if (e?.what !== 'approval' || typeof e.id !== 'number') return;
    const a = c.approvals.get(e.id);
    if (!a || !DECIDED.has(a.status)) return;
    const key = `${a.id}:${a.status}`;
    if (told.has(key)) return;
    told.add(key);
    const body = decisionText(a);
    const to = new Set<string>();
    if (isAgent(a.proposer)) to.add(a.proposer);
    if (isAgent(MANAGER)) to.add(MANAGER);
    for (const r of to) send(r, body);
  };
  const onRuntime = (e: { agent: string; type: string; message?: string }) => {
    if (e.type !== 'exited') return;
    // Whatever the dead process received but never answered comes again to its next process.
    try { bus.redeliver(e.agent); } catch { /* not a mailbox name: nothing to redeliver */ }
    if (e.agent === MANAGER || !isAgent(MANAGER)) return;
    const t = now();
    if (t - (lastCrash.get(e.agent) ?? -Infinity) < crashEveryMs) return;
    lastCrash.set(e.agent, t);
    send(MANAGER, `agent ${e.agent}: ${e.message ?? 'its process exited'}`);
  };
  c.on('change', onChange);
  c.runtime.on('event', onRuntime);
  // Live UI updates (the app forwards controller 'change' events as SSE): ids and names only, never bodies.
  const offMessage = bus.onMessage((m) => {
    c.emit('change', { what: 'message', id: m.id, from: m.from, to: m.to, kind: m.kind, agent: m.to === 'operator' || m.to === 'system' ? null : m.to });
  });
  return () => { c.off('change', onChange); c.runtime.off('event', onRuntime); offMessage(); };
}
