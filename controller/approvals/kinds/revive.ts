import { newToken, writeTokenFile } from '../../auth/index.ts';
import { HyperhiveError } from '../../errors.ts';
import { assertCan } from '../../lifecycle.ts';
import { dirSize } from '../../ops/dir-size.ts';
import { humanBytes, short, type LifecycleDeps } from '../../ops/lifecycle-deps.ts';
import { readRefs } from '../../../repos/refs.ts';
import type { KindHandler } from '../service.ts';
import type { Approval } from '../store.ts';

/**
 * A `revive` request: approving makes the kept agent active again at the applied revision the request
 * showed (`head`; applied does not move, and `approve-revive` sanctions that revision), with its state
 * dir as it was and a new token (the old one was dropped at destroy). The reconciler then starts it.
 */
export function reviveKind(d: LifecycleDeps): KindHandler {
  const appliedNow = async (a: Approval): Promise<string | null> => (await readRefs(d.paths.repo(a.agent)).catch(() => ({ applied: null }))).applied;
  const assertRevivable = async (a: Approval): Promise<void> => {
    const rec = d.agents.get(a.agent);
    if (!rec) throw new HyperhiveError('agent_not_found', `no agent named ${JSON.stringify(a.agent)} (purged?)`);
    assertCan(rec, 'revive');
    const applied = await appliedNow(a);
    if (applied !== a.head) throw new HyperhiveError('conflict', `applied of ${a.agent} is ${short(applied)}, not ${short(a.head)} as revive request #${a.id} showed; ask for a new revive request`, { id: a.id });
  };
  const revive = async (a: Approval, by: string, after: 'approve' | 'restart'): Promise<string> => {
    if (after === 'restart' && d.agents.get(a.agent)?.state === 'active') return `${a.agent} is active already`;
    await assertRevivable(a);
    const token = newToken();
    writeTokenFile(d.paths.token(a.agent), token);
    d.agents.setState(a.agent, 'active');
    d.tokens.add(token, { kind: 'agent', name: a.agent });
    const stateBytes = await dirSize(d.paths.state(a.agent));
    d.log.info(a.agent, 'revived', `agent ${a.agent} is active again at ${short(a.head)} with its state (${humanBytes(stateBytes)}) and a new token (revive request #${a.id}, approved by ${by}); the runtime starts it`, { approval: a.id, head: a.head, stateBytes });
    d.events.publish({ type: 'agent.changed', agent: a.agent, what: 'state' });
    d.events.publish({ type: 'agent.lifecycle', agent: a.agent, what: 'revived', by, approvalId: a.id });
    return `${a.agent} is active at ${short(a.head)}`;
  };
  return {
    auditAction: 'approve-revive',
    check: assertRevivable,
    approved: (a, by) => revive(a, by, 'approve'),
    complete: (a) => revive(a, a.decidedBy ?? 'controller', 'restart'),
    async rejected(a, by) {
      d.log.info(a.agent, 'revive-rejected', `revive request #${a.id} rejected by ${by}: ${a.agent} stays destroyed (kept)`, { approval: a.id });
    },
  };
}
