import { can } from '../lifecycle.ts';
import type { Action, Condition, Observed, Plan } from './types.ts';

const short = (sha: string | null | undefined): string => (sha ? sha.slice(0, 7) : 'none');
const cond = (type: Condition['type'], status: boolean, reason: string, message: string): Condition =>
  ({ type, status: status ? 'True' : 'False', reason, message });

/**
 * Desired vs observed, nothing else: the pure heart of the reconciler. Returns what to do and the
 * conditions that describe the agent as observed; apply() carries the actions out, and the next pass
 * (every action re-enqueues the agent) sees their effect.
 */
export function plan(o: Observed): Plan {
  const actions: Action[] = [];
  const { applied, proposed } = o.refs;

  if (!applied) {
    const hint = o.lastApplied ? ` (last applied ${short(o.lastApplied)}; \`hyperhive repair ${o.agent.name}\` restores it)` : '';
    return stalled('AppliedRefMissing', `refs/heads/applied is missing${hint}`, o);
  }
  if (!proposed) return stalled('ProposedRefMissing', `refs/heads/proposed is missing (\`hyperhive repair ${o.agent.name}\` restores it from applied)`, o);
  if (!o.appliedSanctioned) {
    return stalled('AppliedMovedOutside', `refs/heads/applied points at ${short(applied)}, which no approval, fast-forward or repair put there: nothing is applied from it. \`hyperhive repair ${o.agent.name}\` moves it back to ${short(o.lastSanctioned)}`, o);
  }
  if (o.objectsError || !o.trees.applied || !o.trees.proposed) {
    return stalled('ObjectsMissing', `cannot read commits: ${o.objectsError ?? 'unknown error'}`, o);
  }

  // 1. An approval recorded before a crash is carried out (by its kind) before anything else is decided.
  if (o.approvedIncomplete) {
    const a = o.approvedIncomplete;
    actions.push({ type: 'complete-approval', id: a.id, kind: a.kind });
    return { actions, conditions: [cond('Reconciling', true, 'CompletingApproval', `completing approved ${a.kind} request #${a.id}`)], requeueAt: null };
  }

  // 2. The one open request is always the net change applied..proposed — for active agents only:
  // a draft, pending or kept agent raises nothing (its spawn or revive request is its own kind).
  const open = o.openRequest;
  // One open request per agent: any older one left open is superseded by the newest.
  for (const id of o.olderOpen) {
    actions.push({ type: 'supersede', id, by: open!.id, reason: `request #${open!.id} is the agent's open request; only one is open at a time` });
  }
  const sameTree = o.trees.applied === o.trees.proposed;
  if (!can(o.agent.state, 'raise')) {
    // nothing to raise
  } else if (sameTree) {
    if (open) actions.push({ type: 'supersede', id: open.id, reason: 'proposed has the same tree as applied: nothing to approve' });
    if (applied !== proposed && o.proposedDescends) actions.push({ type: 'fast-forward', from: applied, to: proposed });
  } else {
    const status = o.proposedDescends ? 'pending' : 'diverged';
    const matches = open && open.base === applied && open.head === proposed;
    if (!matches && !(status === 'pending' && o.rejectedPair)) {
      actions.push({ type: 'raise', base: applied, head: proposed, status, supersedes: open?.id ?? null });
    } else if (!matches && open) {
      actions.push({ type: 'supersede', id: open.id, reason: 'this change was rejected for the current pair' });
    }
  }

  // 3. The runtime runs exactly `applied`, for active agents that are not suspended: prepared
  // first (slow, beside what runs), then activated.
  let requeueAt: number | null = null;
  const rt = o.runtime;
  const runs = can(o.agent.state, 'run');
  if (o.prepared !== null && (o.prepared !== applied || !runs)) {
    actions.push({ type: 'discard-prepared', revision: o.prepared, reason: !runs ? `agent is ${o.agent.state}` : `applied is now ${short(applied)}` });
  }
  if (runs) {
    const drift = rt.revision !== applied || rt.state === 'none' || rt.state === 'stopped' || rt.state === 'crashed';
    if (drift && !o.agent.suspended) {
      if (o.nextAttemptAt !== null && o.nextAttemptAt > o.now) requeueAt = o.nextAttemptAt;
      else if (o.prepared === applied) actions.push({ type: 'activate-runtime', revision: applied });
      else if (rt.building !== applied) actions.push({ type: 'prepare-runtime', revision: applied, reason: rt.revision === null ? 'not running' : rt.revision !== applied ? `runs ${short(rt.revision)}, applied is ${short(applied)}` : `runtime ${rt.state}` });
      // else: its build is under way; the build's end wakes the agent.
    }
  } else if (rt.state !== 'none' && rt.state !== 'stopped') {
    actions.push({ type: 'stop-runtime', reason: `agent is ${o.agent.state}` });
  }

  // A crash loop clears once its oldest crash leaves the window: look again then.
  const loop = crashLoop(o);
  if (loop && o.crashes.oldestAt !== null) {
    const clears = o.crashes.oldestAt + o.crashes.windowMs + 1;
    requeueAt = requeueAt === null ? clears : Math.min(requeueAt, clears);
  }
  return { actions, conditions: conditions(o, actions, requeueAt), requeueAt };
}

/** The agent runs (active, not suspended) and crashed `limit` times within the window. */
const crashLoop = (o: Observed): boolean =>
  can(o.agent.state, 'run') && !o.agent.suspended && o.crashes.limit > 0 && o.crashes.recent >= o.crashes.limit;

/** The build log's tail as a condition shows it: the last lines, at most ~2 KB. */
function tail(text: string, max = 2000): string {
  const t = text.trimEnd();
  if (t.length <= max) return t;
  const cut = t.slice(-max);
  const nl = cut.indexOf('\n');
  return `…${nl >= 0 ? cut.slice(nl) : cut}`;
}

function stalled(reason: string, message: string, o: Observed): Plan {
  const actions: Action[] = [];
  return {
    actions,
    conditions: [cond('Ready', false, reason, message), cond('Stalled', true, reason, message), cond('Reconciling', false, reason, message)],
    requeueAt: null,
  };
}

function conditions(o: Observed, actions: Action[], requeueAt: number | null): Condition[] {
  const applied = o.refs.applied!;
  const rt = o.runtime;
  const busy = actions.length > 0;
  const pendingNote = actions.some((a) => a.type === 'raise' && a.status === 'pending') || o.openRequest?.status === 'pending'
    ? '; a change waits for approval' : '';
  let ready: Condition;
  if (!can(o.agent.state, 'run')) ready = cond('Ready', true, o.agent.state === 'kept' ? 'Kept' : o.agent.state === 'draft' ? 'Draft' : 'PendingApproval', `agent is ${o.agent.state}: no runtime`);
  else if (o.agent.suspended) ready = cond('Ready', rt.revision === applied && rt.state === 'running', 'Suspended', `suspended: no applies (runs ${short(rt.revision)}, applied ${short(applied)})`);
  else if (requeueAt !== null) ready = cond('Ready', false, 'ApplyFailed', `apply of ${short(applied)} failed ${o.failures} time(s); next attempt in ${Math.max(0, Math.round((requeueAt - o.now) / 1000))}s`);
  else if (rt.state === 'running' && rt.revision === applied) ready = cond('Ready', true, 'Running', `running applied revision ${short(applied)}${pendingNote}`);
  else if (rt.building === applied) ready = cond('Ready', false, 'Building', `preparing ${short(applied)}${rt.revision ? ` while ${short(rt.revision)} runs` : ''}`);
  else if (rt.state === 'backoff') ready = cond('Ready', false, 'Restarting', `agent process exited; restarting ${short(rt.revision)} with backoff`);
  else ready = cond('Ready', false, 'Progressing', `applying ${short(applied)}`);
  const building = can(o.agent.state, 'run') && rt.building === applied && rt.revision !== applied;
  const reconciling = busy || requeueAt !== null || building
    ? cond('Reconciling', true, requeueAt !== null ? 'Backoff' : building && !busy ? 'Building' : 'Progressing', actions.map(describe).join('; ') || (building ? `preparing ${short(applied)}` : 'waiting for backoff'))
    : cond('Reconciling', false, 'Idle', 'desired state reached');
  const bf = o.buildFailure;
  const runs = can(o.agent.state, 'run');
  let stalledC: Condition;
  if (runs && bf && bf.revision === applied) {
    const keeps = rt.revision && rt.revision !== applied && rt.state !== 'none' ? `; ${short(rt.revision)} keeps running` : '';
    stalledC = cond('Stalled', true, 'BuildFailed', `building ${short(applied)} failed: ${bf.error}${keeps}${o.failures > 1 ? ` (${o.failures} attempts; retrying with backoff)` : ''}\n${tail(bf.logTail)}`);
  } else if (crashLoop(o)) {
    stalledC = cond('Stalled', true, 'CrashLoop', `crashed ${o.crashes.recent} times in ${Math.round(o.crashes.windowMs / 60_000 * 10) / 10} min; restarting ${short(rt.revision)} with backoff`);
  } else if (o.failures >= 5 && requeueAt !== null) {
    stalledC = cond('Stalled', true, 'ApplyFailing', `apply failed ${o.failures} times in a row; still retrying with backoff`);
  } else stalledC = cond('Stalled', false, 'None', '');
  return [ready, reconciling, stalledC];
}

export function describe(a: Action): string {
  switch (a.type) {
    case 'complete-approval': return `complete approved ${a.kind} request #${a.id}`;
    case 'fast-forward': return `fast-forward applied ${short(a.from)}→${short(a.to)} (same tree, nothing changes in what runs)`;
    case 'supersede': return `supersede request #${a.id}: ${a.reason}`;
    case 'raise': return `raise ${a.status} request ${short(a.base)}..${short(a.head)}`;
    case 'prepare-runtime': return `prepare ${short(a.revision)} for the runtime (${a.reason})`;
    case 'activate-runtime': return `activate ${short(a.revision)} in the runtime`;
    case 'discard-prepared': return `discard prepared ${short(a.revision)} (${a.reason})`;
    case 'stop-runtime': return `stop the runtime (${a.reason})`;
  }
}
