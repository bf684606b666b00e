import type { Identity } from '../auth/identity.ts';
import { newToken, tokenDigest, type TokenRegistry } from '../auth/tokens.ts';
import { HyperhiveError } from '../errors.ts';
import type { EventStream } from '../events.ts';
import type { ReconLog } from '../log.ts';
import { MANAGER, NAME_PATTERN, RESERVED_NAMES } from '../names.ts';
import type { OperatorStore } from './store.ts';

/** The first operator: its token is <state>/operator.token, it cannot be revoked. */
export const FIRST_OPERATOR = 'operator';

export interface OperatorView {
  name: string;
  /** The first operator (`operator`, token in operator.token). */
  first: boolean;
  createdAt: number | null;
  createdBy: string | null;
}

export interface OperatorServiceDeps {
  store: OperatorStore;
  tokens: TokenRegistry;
  log: ReconLog;
  events: EventStream;
  /** An agent of that name exists (names are shared: proposer and approver are recorded by name). */
  agentExists: (name: string) => boolean;
}

/** Refuses a name that is not an operator name, or one that would read as someone else in the audit trail. */
export function assertOperatorName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !name) throw new HyperhiveError('invalid_name', 'operator name is required (field "name")', { field: 'name' });
  if (!NAME_PATTERN.test(name)) {
    throw new HyperhiveError('invalid_name', `invalid operator name ${JSON.stringify(name.slice(0, 40))}: names match ${NAME_PATTERN.source} (lowercase letter first, then lowercase letters, digits or '-', at most 32 characters)`, { field: 'name' });
  }
  if (name === FIRST_OPERATOR) throw new HyperhiveError('conflict', 'operator "operator" is the first operator and always exists (its token is in operator.token)', { field: 'name' });
  if (name === MANAGER || (RESERVED_NAMES as readonly string[]).includes(name)) {
    throw new HyperhiveError('reserved_name', `operator name ${JSON.stringify(name)} is reserved (${[MANAGER, ...RESERVED_NAMES.filter((n) => n !== FIRST_OPERATOR)].join(', ')})`, { field: 'name' });
  }
}

/**
 * Named operators: each has a token of its own (shown once, stored only as its SHA-256), so every
 * decision, commit and session carries who made it. Revoking one ends its token at once; the web
 * sessions it opened end with it (they listen for `operator.changed`).
 */
export class OperatorService {
  constructor(private readonly d: OperatorServiceDeps) {}

  /** Registers every named operator's token; the first operator's comes from its file (Controller.start). */
  load(): void {
    for (const r of this.d.store.list()) this.d.tokens.addDigest(r.tokenSha256, { kind: 'operator', name: r.name });
  }

  list(): OperatorView[] {
    return [
      { name: FIRST_OPERATOR, first: true, createdAt: null, createdBy: null },
      ...this.d.store.list().map((r) => ({ name: r.name, first: false, createdAt: r.createdAt, createdBy: r.createdBy })),
    ];
  }

  /** Whether `name` is an operator (the first one, or a named one not revoked). */
  isOperator(name: string): boolean {
    return name === FIRST_OPERATOR || !!this.d.store.get(name);
  }

  /** Adds an operator and returns its new token: the only time anyone sees it. */
  add(name: unknown, by: Identity): { name: string; token: string } {
    this.operatorOnly(by);
    assertOperatorName(name);
    if (this.d.store.get(name)) throw new HyperhiveError('conflict', `operator ${name} already exists (revoke it first to give it a new token)`, { field: 'name' });
    if (this.d.agentExists(name)) throw new HyperhiveError('conflict', `${name} is an agent's name: an operator needs a name of its own (approvals and commits are recorded by name)`, { field: 'name' });
    const token = newToken();
    this.d.store.insert(name, tokenDigest(token), by.name);
    this.d.tokens.addDigest(tokenDigest(token), { kind: 'operator', name });
    this.d.log.info(null, 'operator-added', `operator ${name} added by ${by.name}`, { operator: name, by: by.name });
    this.d.log.audit({ actor: by.name, action: 'operator-add', data: { operator: name } });
    this.d.events.publish({ type: 'operator.changed', name, what: 'added', by: by.name });
    return { name, token };
  }

  /** Revokes an operator: its token stops working now, and its sessions end. */
  revoke(name: string, by: Identity): OperatorView {
    this.operatorOnly(by);
    if (name === FIRST_OPERATOR) throw new HyperhiveError('forbidden', 'the first operator ("operator", token in operator.token) cannot be revoked: it is how the CLI on this host reaches the controller');
    const rec = this.d.store.get(name);
    if (!rec) throw new HyperhiveError('not_found', `no operator named ${JSON.stringify(name.slice(0, 40))}`);
    this.d.store.delete(name);
    this.d.tokens.removeIdentity({ kind: 'operator', name });
    this.d.log.info(null, 'operator-revoked', `operator ${name} revoked by ${by.name}: its token and sessions end now`, { operator: name, by: by.name });
    this.d.log.audit({ actor: by.name, action: 'operator-revoke', data: { operator: name } });
    this.d.events.publish({ type: 'operator.changed', name, what: 'revoked', by: by.name });
    return { name, first: false, createdAt: rec.createdAt, createdBy: rec.createdBy };
  }

  private operatorOnly(by: Identity): void {
    if (by.kind !== 'operator') throw new HyperhiveError('forbidden', `only an operator manages operators; ${by.kind} ${by.name} may not`);
  }
}
