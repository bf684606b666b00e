import type { Approval } from '../approvals/store.ts';
import type { Identity } from '../auth/index.ts';
import { HyperhiveError } from '../errors.ts';
import { assertCan } from '../lifecycle.ts';
import { readRefs } from '../../repos/refs.ts';
import { listTree, readFileAt } from '../../repos/read.ts';
import { assertNotManager } from './destroy.ts';
import { dirSize } from './dir-size.ts';
import { keptInfo } from './kept-info.ts';
import { humanBytes, short, type LifecycleDeps } from './lifecycle-deps.ts';

/** The most of hyperhive.json a revive request carries for the operator to read. */
const SURFACE_MAX = 16 * 1024;

/** What a revive request shows the operator: what will start. */
export interface ReviveData {
  stateBytes: number;
  destroyedAt: number | null;
  destroyedBy: string | null;
  /** hyperhive.json at the applied revision (the agent's surface), cut at 16 KB. */
  surface: string | null;
  files: { path: string; size: number }[];
}

/**
 * A `revive` request for a destroyed (kept) agent, from an operator or the manager: it shows the
 * applied revision that will start, its config and the size of its state. On approval the agent is
 * active again at that revision with its state and a new token (approvals/kinds/revive.ts). The
 * agent stays kept until then: its old token works nowhere meanwhile.
 */
export async function requestRevive(d: LifecycleDeps, name: string, by: Identity): Promise<Approval> {
  assertNotManager(name, by, 'revive');
  assertCan(d.requireAgent(name), 'revive');
  const repo = d.paths.repo(name);
  const a = await d.exclusive(name, async () => {
    assertCan(d.requireAgent(name), 'revive');
    const open = d.store.list({ agent: name, kind: 'revive', status: ['pending'] }).at(-1);
    if (open) throw new HyperhiveError('conflict', `agent ${name} already has revive request #${open.id} waiting for an operator`, { name, approval: open.id });
    const { applied } = await readRefs(repo);
    if (!applied) throw new HyperhiveError('conflict', `agent ${name} has no applied branch, so there is nothing to start; \`hyperhive repair ${name}\` restores it`);
    const files = (await listTree(repo, applied)).map((f) => ({ path: f.path, size: f.size }));
    const surfaceBuf = await readFileAt(repo, applied, 'hyperhive.json').catch(() => null);
    const surface = surfaceBuf ? surfaceBuf.subarray(0, SURFACE_MAX).toString('utf8') : null;
    const stateBytes = await dirSize(d.paths.state(name));
    const kept = keptInfo(d.log, name);
    const data: ReviveData = { stateBytes, destroyedAt: kept?.at ?? null, destroyedBy: kept?.by ?? null, surface, files };
    return d.store.atomically(() => {
      const r = d.store.insert({ kind: 'revive', agent: name, base: null, head: applied, status: 'pending', paths: files.map((f) => f.path), proposer: by.name, data: { ...data } });
      d.log.info(name, 'revive-requested', `revive request #${r.id} by ${by.name} for ${name}: it would start at applied ${short(applied)} with its state (${humanBytes(stateBytes)}) and a new token`, { approval: r.id, head: applied, stateBytes });
      d.log.audit({ actor: by.name, action: 'request-revive', agent: name, approvalId: r.id, head: applied, data: { stateBytes } });
      return r;
    });
  });
  d.events.publish({ type: 'request.raised', agent: name, id: a.id, kind: 'revive' });
  return a;
}
