import { HyperhiveError } from '../../errors.ts';
import { assertCan } from '../../lifecycle.ts';
import { destroyInSlot } from '../../ops/destroy.ts';
import type { LifecycleDeps } from '../../ops/lifecycle-deps.ts';
import type { KindHandler } from '../service.ts';

/**
 * A `destroy` request (the manager asked): approving destroys the agent as an operator's destroy
 * would, in the slot the service already holds; rejecting leaves it running. After a crash between
 * the decision and the destroy, completing it finds the agent kept already or destroys it.
 */
export function destroyKind(d: LifecycleDeps): KindHandler {
  const carryOut = async (a: Parameters<KindHandler['approved']>[0], by: string): Promise<string> => {
    const info = await destroyInSlot(d, a.agent, by, { approvalId: a.id, requestedBy: a.proposer, reason: typeof a.data.reason === 'string' ? a.data.reason : null });
    return `${a.agent} destroyed (kept, state ${info.stateBytes} bytes)`;
  };
  return {
    auditAction: 'approve-destroy',
    async check(a) {
      const rec = d.agents.get(a.agent);
      if (!rec) throw new HyperhiveError('agent_not_found', `no agent named ${JSON.stringify(a.agent)}`);
      assertCan(rec, 'destroy');
    },
    approved: (a, by) => carryOut(a, by),
    async complete(a) {
      if (d.agents.get(a.agent)?.state === 'kept') return `${a.agent} is kept already`;
      return carryOut(a, a.decidedBy ?? 'controller');
    },
    async rejected(a, by) {
      d.log.info(a.agent, 'destroy-rejected', `destroy request #${a.id} rejected by ${by}: ${a.agent} stays as it was`, { approval: a.id });
    },
  };
}
