import type { AgentState } from './agents/store.ts';
import { HyperhiveError } from './errors.ts';

/**
 * What an agent's state allows: the one policy every guard asks, with the refusal's text in one place.
 * `active` runs; `draft` is a repo only (no runtime, no requests); `pending` waits for its spawn or
 * revive request; `kept` is destroyed with repo and state kept.
 */
export type AgentOp =
  /** The runtime runs it. */
  | 'run'
  /** The reconciler raises change requests for it. */
  | 'raise'
  /** Its token works (git, MCP, API). */
  | 'authenticate'
  /** Its repo is served over HTTP. */
  | 'serve-git'
  /** Config may be proposed to it. */
  | 'propose'
  | 'write-notes'
  /** Messages may be sent to it. */
  | 'receive-messages'
  /** An operator may answer a message it sent. */
  | 'answer'
  /** System messages (decisions, crashes) go to it. */
  | 'be-told'
  /** A spawn request may be raised for it at a commit of its draft. */
  | 'request-spawn'
  /** Its harness may ask an operator about a tool call (it runs turns). */
  | 'ask-tool'
  /** It may be taken down with its repo and state kept (an operator's destroy, an approved destroy request). */
  | 'destroy'
  /** A revive request may be raised for it (and approved: it comes back at its applied revision). */
  | 'revive'
  /** Its repo and state may be deleted for good. */
  | 'purge'
  /** It may be suspended or resumed (a destroyed agent applies nothing either way). */
  | 'suspend';

const NOT_KEPT: AgentState[] = ['active', 'draft', 'pending'];
const RULES: Record<AgentOp, { allowed: AgentState[]; refusal: (name: string, state: AgentState) => string }> = {
  run: { allowed: ['active'], refusal: (n, s) => `agent ${n} is ${s}: it has no runtime` },
  raise: { allowed: ['active'], refusal: (n, s) => `agent ${n} is ${s}: no change requests are raised for it` },
  authenticate: { allowed: NOT_KEPT, refusal: (n) => `agent ${n} was destroyed (kept): its token no longer works` },
  'serve-git': { allowed: NOT_KEPT, refusal: (n) => `agent ${n} was destroyed (kept): its repository is not served` },
  propose: { allowed: NOT_KEPT, refusal: (n) => `agent ${n} was destroyed (kept): nothing can be proposed to it` },
  'write-notes': { allowed: NOT_KEPT, refusal: (n) => `agent ${n} was destroyed (kept): its notes are read-only` },
  'receive-messages': { allowed: NOT_KEPT, refusal: (n) => `agent ${n} was destroyed (kept): it reads no messages` },
  answer: { allowed: NOT_KEPT, refusal: (n) => `agent ${n} was destroyed (kept): nobody to answer` },
  'be-told': { allowed: NOT_KEPT, refusal: (n) => `agent ${n} was destroyed (kept): it is told nothing` },
  suspend: { allowed: NOT_KEPT, refusal: (n) => `agent ${n} was destroyed (kept): there is nothing to suspend or resume; revive it first` },
  'ask-tool': { allowed: ['active'], refusal: (n, s) => `agent ${n} is ${s}: it runs no turns, so it has no tool calls to ask about` },
  destroy: { allowed: NOT_KEPT, refusal: (n) => `agent ${n} was destroyed already (kept): revive it, or purge it for good` },
  revive: { allowed: ['kept'], refusal: (n, s) => `agent ${n} is ${s}, not destroyed: only a destroyed (kept) agent can be revived` },
  purge: { allowed: ['kept'], refusal: (n, s) => `agent ${n} is ${s}: only a destroyed (kept) agent can be purged; destroy it first` },
  'request-spawn': {
    allowed: ['draft', 'pending'],
    refusal: (n, s) => `agent ${n} is ${s}, not a draft: ${s === 'active' ? 'propose changes to it instead (they raise change requests)' : 'revive it first'}`,
  },
};

export function can(state: AgentState, op: AgentOp): boolean {
  return RULES[op].allowed.includes(state);
}

/** Throws `conflict` with the policy's reason (prefixed by `field` when the agent came from an argument). */
export function assertCan(agent: { name: string; state: AgentState }, op: AgentOp, o: { field?: string } = {}): void {
  if (can(agent.state, op)) return;
  const message = RULES[op].refusal(agent.name, agent.state);
  throw new HyperhiveError('conflict', o.field ? `${o.field}: ${message}` : message, { name: agent.name, state: agent.state, ...(o.field ? { field: o.field } : {}) });
}
