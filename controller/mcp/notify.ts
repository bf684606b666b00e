import type { AgentStore } from '../agents/store.ts';
import type { Approval, ApprovalStore } from '../approvals/store.ts';
import type { Bus } from '../bus/index.ts';
import type { EventStream } from '../events.ts';
import { can } from '../lifecycle.ts';
import type { ReconLog } from '../log.ts';
import { MANAGER } from '../names.ts';
import type { RuntimeEvent } from '../runtime/types.ts';

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
    const effect = a.kind === 'change' ? `applied is now ${short(a.head)}; the runtime applies it`
      : a.kind === 'spawn' ? `${a.agent} is active at ${short(a.head)} and starts`
      : a.kind === 'revive' ? `${a.agent} is active again at ${short(a.head)} with its state and a new token, and starts`
      : a.kind === 'destroy' ? `${a.agent} is destroyed: it no longer runs, its repo and state are kept (request_revive brings it back)`
      : 'it takes effect now';
    return `${what} was approved by ${a.decidedBy ?? 'an operator'}: ${effect}.${a.note ? ` Note: ${a.note}` : ''}`;
  }
  if (a.status === 'rejected') return `${what} was rejected by ${a.decidedBy ?? 'an operator'}: ${a.reason ?? 'no reason given'}.`;
  return `${what} failed: ${a.error ?? 'unknown error'}.`;
}

/**
 * The manager's message about a sub-agent's process ending. A crash (the D-Bus watcher's
 * ContainerCrash, or a child's non-zero exit) names the agent, the unit and systemd's result where
 * it runs as a unit, the exit status or signal, and when it was seen.
 */
export function endedText(agent: string, e: Extract<RuntimeEvent, { type: 'exited' | 'crashed' }>, now: number): string {
  if (e.type === 'exited') return `agent ${agent}: ${e.message}`;
  const status = e.signal ? `signal ${e.signal}` : e.code !== null ? `exit status ${e.code}` : 'no exit status';
  const parts = [
    `agent ${agent} crashed`, e.unit ? `unit ${e.unit}` : null, e.result ? `result ${e.result}` : null, status,
    `at ${new Date(e.at ?? now).toISOString()}`, e.revision ? `revision ${short(e.revision)}` : null,
  ];
  return `${parts.filter(Boolean).join(', ')}. The runtime restarts it with backoff (${e.message}).`;
}

export interface SystemMessageDeps {
  events: EventStream;
  agents: Pick<AgentStore, 'get'>;
  approvals: Pick<ApprovalStore, 'get'>;
  log: Pick<ReconLog, 'warn'>;
}

/**
 * Messages from `system`: a decided request goes to its proposer and to the manager; a sub-agent's
 * process ending goes to the manager, and makes whatever that agent had in hand come again. Every
 * stored message also becomes a `message` domain event (ids and names only, never bodies).
 * Returns the function that unhooks it all.
 */
export function wireSystemMessages(d: SystemMessageDeps, bus: Bus, o: SystemMessagesOptions = {}): () => void {
  const now = o.now ?? Date.now;
  const crashEveryMs = o.crashEveryMs ?? 60_000;
  // In memory: after a restart a decision is not announced twice, and a missed one is at worst missed.
  const told = new Set<string>();
  const lastCrash = new Map<string, number>();
  const send = (to: string, body: string) => {
    try { bus.send({ from: 'system', to, kind: 'event', body }); } catch (e) { d.log.warn(null, 'system-message', `cannot tell ${to}: ${(e as Error).message}`); }
  };
  const isAgent = (n: string | null): n is string => { const r = n ? d.agents.get(n) : null; return !!r && can(r.state, 'be-told'); };

  const offDecided = d.events.on('request.decided', (e) => {
    const a = d.approvals.get(e.id);
    // A tool call's answer reaches its agent through the waiting turn itself; a message would start another turn.
    if (!a || !DECIDED.has(a.status) || a.kind === 'tool') return;
    const key = `${a.id}:${a.status}`;
    if (told.has(key)) return;
    told.add(key);
    const body = decisionText(a);
    const to = new Set<string>();
    if (isAgent(a.proposer)) to.add(a.proposer);
    if (isAgent(MANAGER)) to.add(MANAGER);
    for (const r of to) send(r, body);
  });
  const offRuntime = d.events.on('runtime', ({ agent, event: e }) => {
    if (e.type !== 'exited' && e.type !== 'crashed') return;
    // Whatever the dead process received but never answered comes again to its next process.
    try { bus.redeliver(agent); } catch { /* not a mailbox name: nothing to redeliver */ }
    if (agent === MANAGER || !isAgent(MANAGER)) return;
    const t = now();
    if (t - (lastCrash.get(agent) ?? -Infinity) < crashEveryMs) return;
    lastCrash.set(agent, t);
    send(MANAGER, endedText(agent, e, t));
  });
  // An operator's own destroy or purge of a sub-agent: the manager runs the fleet, so it is told (a
  // request it raised is told above, as a decision).
  const offLifecycle = d.events.on('agent.lifecycle', (e) => {
    if (e.approvalId !== null || e.agent === MANAGER || !isAgent(MANAGER)) return;
    if (e.what === 'destroyed') send(MANAGER, `agent ${e.agent} was destroyed by ${e.by}: it no longer runs; its repo and state are kept (request_revive asks for it back).`);
    else if (e.what === 'purged') send(MANAGER, `agent ${e.agent} was purged by ${e.by}: its repo and state are gone for good.`);
  });
  const offMessage = bus.onMessage((m) => d.events.publish({ type: 'message', id: m.id, from: m.from, to: m.to, kind: m.kind }));
  return () => { offDecided(); offRuntime(); offLifecycle(); offMessage(); };
}
