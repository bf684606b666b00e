import { MANAGER } from '../names.ts';

/** Who is calling: decided by the token presented, never by an argument. */
export type Identity =
  | { kind: 'operator'; name: string }
  | { kind: 'agent'; name: string };

/** The string recorded as proposer / approver / author: an agent's name, or an operator's name. */
export const identityName = (id: Identity): string => id.name;

export const isOperator = (id: Identity | null | undefined): boolean => id?.kind === 'operator';
export const isManager = (id: Identity | null | undefined): boolean => id?.kind === 'agent' && id.name === MANAGER;

/** Repos an identity may read and push: operators and the manager every agent's, an agent its own. */
export function canAccessRepo(id: Identity, agent: string): boolean {
  return id.kind === 'operator' || id.name === agent || id.name === MANAGER;
}
