import type { AgentRecord } from './store.ts';
import type { KeptInfo } from '../ops/kept-info.ts';
import type { AgentStatusRecord } from '../reconciler/status.ts';
import type { Condition } from '../reconciler/types.ts';
import { shownState, type RuntimeStatus } from '../runtime/types.ts';
import type { BranchRefs, RefCache } from '../../repos/ref-cache.ts';

export interface AgentView {
  name: string;
  state: AgentRecord['state'];
  applied: string | null;
  proposed: string | null;
  live: string | null;
  model: string | null;
  conditions: Condition[];
  runtime: { state: RuntimeStatus['state']; revision: string | null; building: string | null; isolated: boolean; pid: number | null; startedAt: number | null; restarts: number; note: string; kind: string };
  suspended: boolean;
  kept: boolean;
  /** For a kept agent: when and by whom it was destroyed, its state's size, its applied revision then. */
  destroyed: KeptInfo | null;
  lastAppliedRevision: string | null;
  lastAttemptedRevision: string | null;
  history: { ts: number; op: string; revision: string | null; result: string; message: string }[];
  createdAt: number;
  createdBy: string;
}

export interface AgentViewsDeps {
  repo: (name: string) => string;
  refs: RefCache;
  /** The model named on `live` at that commit (cached by commit: it never changes). */
  model: (name: string, live: string | null) => Promise<string | null>;
  status: (name: string) => AgentStatusRecord;
  runtime: (name: string) => RuntimeStatus;
  runtimeKind: string;
  /** The agent's conditions as every view shows them (the reconciler's, merged with the other sources). */
  conditions: (name: string) => Condition[];
  kept: (name: string) => KeptInfo | null;
}

/**
 * What a view is made of, each part as cheap to compare as it is to get (all in memory but the refs,
 * which come from the journal-checked RefCache). Equal parts make an equal view, so the view and its
 * JSON are served again. The status record is compared by identity: StatusStore replaces it on every
 * update. Kept agents are built every time (their destroy record is a log query; they are few).
 */
interface Parts {
  record: string;
  refs: BranchRefs;
  status: AgentStatusRecord;
  conditions: Condition[];
  /** The conditions' JSON when they are not the status record's own array (a source merged into them). */
  merged: string | null;
  runtime: string;
}

interface Entry { parts: Parts; view: AgentView; json: string | null }

const recordKey = (a: AgentRecord): string => `${a.state}\u0001${a.suspended ? 1 : 0}\u0001${a.createdAt}\u0001${a.createdBy}`;
const sameRefs = (x: BranchRefs, y: BranchRefs): boolean => x.applied === y.applied && x.proposed === y.proposed && x.live === y.live;

/**
 * The one builder of agent views (API, pages, CLI, MCP), with a cache per agent: the fleet listing
 * serves 50 views a page, and building and serialising each again cost more than the page's fixed
 * part (measured: `npm run bench -- fleet`). Every part a view shows is compared on each call, so a
 * cached view is never older than its inputs.
 */
export class AgentViews {
  private readonly entries = new Map<string, Entry>();
  constructor(private readonly d: AgentViewsDeps) {}

  /** The journal mark for a batch of views (one stat for a whole page); see RefCache.mark. */
  mark(): string { return this.d.refs.mark(); }

  async view(a: AgentRecord, mark?: string): Promise<AgentView> {
    return (await this.entry(a, mark)).view;
  }

  /** The view as JSON, serialised once per change of the view. */
  async json(a: AgentRecord, mark?: string): Promise<string> {
    const e = await this.entry(a, mark);
    return (e.json ??= JSON.stringify(e.view));
  }

  /** Drops what is held of an agent (purged). */
  forget(name: string): void {
    this.entries.delete(name);
    this.d.refs.forget(this.d.repo(name));
  }

  private async entry(a: AgentRecord, mark?: string): Promise<Entry> {
    const d = this.d;
    const refs = await d.refs.read(d.repo(a.name), a.createdAt, mark ?? d.refs.mark()).catch((): BranchRefs => ({ proposed: null, applied: null, live: null }));
    const status = d.status(a.name);
    const conditions = d.conditions(a.name);
    const rt = d.runtime(a.name);
    const rtView: AgentView['runtime'] = {
      state: shownState(rt), revision: rt.revision, building: rt.building, isolated: rt.isolated, pid: rt.pid,
      startedAt: rt.startedAt, restarts: rt.restarts, note: rt.note, kind: rt.kind ?? d.runtimeKind,
    };
    const parts: Parts = {
      record: recordKey(a), refs, status, conditions,
      merged: conditions === status.conditions ? null : JSON.stringify(conditions),
      runtime: `${rtView.state}\u0001${rtView.revision}\u0001${rtView.building}\u0001${rtView.isolated}\u0001${rtView.pid}\u0001${rtView.startedAt}\u0001${rtView.restarts}\u0001${rtView.kind}\u0001${rtView.note}`,
    };
    const old = this.entries.get(a.name);
    if (old && a.state !== 'kept' && same(old.parts, parts)) return old;
    const view: AgentView = {
      name: a.name, state: a.state, applied: refs.applied, proposed: refs.proposed, live: refs.live,
      model: await d.model(a.name, refs.live),
      conditions, runtime: rtView,
      suspended: a.suspended, kept: a.state === 'kept', destroyed: a.state === 'kept' ? d.kept(a.name) : null,
      lastAppliedRevision: status.lastAppliedRevision, lastAttemptedRevision: status.lastAttemptedRevision, history: status.history,
      createdAt: a.createdAt, createdBy: a.createdBy,
    };
    const e: Entry = { parts, view, json: null };
    this.entries.set(a.name, e);
    return e;
  }
}

function same(x: Parts, y: Parts): boolean {
  return x.record === y.record && sameRefs(x.refs, y.refs) && x.status === y.status && x.runtime === y.runtime
    && (x.merged === null && y.merged === null ? x.conditions === y.conditions : x.merged === y.merged);
}
