import type { Approval, ApprovalKind } from '../../../controller/approvals/store.ts';
import { HyperhiveError } from '../../../controller/errors.ts';
import { QUEUE_KINDS, QUEUE_SORTS, type QueueQuery, type QueueSort } from '../../views/fleet-controls.ts';

type Raw = Record<string, string | string[] | undefined>;
const first = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

/** The dashboard queue's `qsort` (age, -age, agent, -agent) and `qkind`; a bad value is a 400 naming it. */
export function parseQueueQuery(raw: Raw): QueueQuery {
  const sort = first(raw.qsort) || 'age';
  if (!QUEUE_SORTS.includes(sort as QueueSort)) throw new HyperhiveError('bad_request', `qsort must be one of ${QUEUE_SORTS.join(', ')}, got ${JSON.stringify(sort.slice(0, 40))}`, { field: 'qsort' });
  const kind = first(raw.qkind) || null;
  if (kind !== null && !QUEUE_KINDS.includes(kind as ApprovalKind)) throw new HyperhiveError('bad_request', `qkind must be one of ${QUEUE_KINDS.join(', ')}, got ${JSON.stringify(kind.slice(0, 40))}`, { field: 'qkind' });
  return { sort: sort as QueueSort, kind: kind as ApprovalKind | null };
}

/** Oldest first by default (the one waiting longest); by agent, then oldest first within an agent. Pure. */
export function orderQueue(list: Approval[], q: QueueQuery): Approval[] {
  const dir = q.sort.startsWith('-') ? -1 : 1;
  const byAge = (a: Approval, b: Approval) => a.createdAt - b.createdAt || a.id - b.id;
  const cmp = q.sort.endsWith('agent')
    ? (a: Approval, b: Approval) => dir * (a.agent < b.agent ? -1 : a.agent > b.agent ? 1 : 0) || byAge(a, b)
    : (a: Approval, b: Approval) => dir * byAge(a, b);
  return list.filter((a) => !q.kind || a.kind === q.kind).sort(cmp);
}
