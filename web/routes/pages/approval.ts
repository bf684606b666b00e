import Router from '@koa/router';
import type { Context } from 'koa';
import type { Approval } from '../../../controller/approvals/store.ts';
import { HyperhiveError } from '../../../controller/errors.ts';
import { readJson } from '../../body.ts';
import { approvalPage, type ApprovalCommit } from '../../views/approval.ts';
import { parseDiffFormat } from '../../views/diff.ts';
import { SizedLru } from '../../views/lru.ts';
import { idParam } from '../../params.ts';
import { html, sessionOf, short, who, type PageContext } from './context.ts';
import { takeFlash } from './flash.ts';
import { formAction } from './form-action.ts';

/** `/approvals/:id`: one request with its diff (and one file of it, loaded lazily), commits, votes; approve and reject. */
export function approvalRouter(d: PageContext): Router {
  const c = d.controller;
  const diffs = d.diffs;
  const r = new Router();
  const requestId = (ctx: Context): number => idParam(ctx.params.id, 'request id');

  /** Commits of base..head: immutable, so cached once every proposer is known (push records can lag). */
  const commitLists = new SizedLru<ApprovalCommit[]>(2_000);
  async function approvalCommits(a: Approval): Promise<ApprovalCommit[]> {
    const key = `${a.agent}:${a.base}..${a.head}`;
    const hit = commitLists.get(key);
    if (hit) return hit;
    const list = await c.approvalCommits(a.id);
    if (list.every((x) => x.proposer)) commitLists.set(key, list, 1);
    return list;
  }

  r.get('/approvals/:id', ...d.guard, async (ctx) => {
    const a = c.getApproval(requestId(ctx));
    const format = parseDiffFormat(ctx.query.view);
    // Independent reads in parallel: each may be a git process.
    const [agent, diff, commitList] = await Promise.all([
      c.findAgent(a.agent) ? c.getAgent(a.agent) : Promise.resolve(null),
      a.base && a.head ? diffs.renderLazy(`${a.base}..${a.head}`, () => c.approvalDiff(a.id), format) : Promise.resolve(null),
      approvalCommits(a),
    ]);
    let stale: { message: string; newer: Approval | null } | null = null;
    if (a.status === 'pending' && a.kind === 'change' && agent) {
      const moved: string[] = [];
      if (agent.applied !== a.base) moved.push(`applied moved from ${short(a.base)} to ${short(agent.applied)}`);
      if (agent.proposed !== a.head) moved.push(`proposed moved from ${short(a.head)} to ${short(agent.proposed)}`);
      if (moved.length) {
        const newer = c.openChange(a.agent);
        // Between the ref moving and the reconciler raising its request the page has no link to
        // give yet; say so, and the live refresh replaces this once the request exists.
        const coming = agent.proposed !== a.head && (!newer || newer.id === a.id) ? ` A request for ${short(agent.proposed)} is being raised.` : '';
        stale = { message: `${moved.join('; ')}. Approving this request would be refused.${coming}`, newer };
      }
    }
    if (a.status === 'superseded' && a.supersededBy) {
      const newer = c.getApproval(a.supersededBy);
      stale = { message: `a newer push to proposed superseded this request${newer ? ` (request #${newer.id} is ${newer.status})` : ''}.`, newer: c.openChange(a.agent) ?? newer };
    }
    const view = c.approvalView(a);
    html(ctx, approvalPage({
      now: d.now(), csrf: sessionOf(ctx)?.csrf ?? null, identity: who(ctx).name, flash: takeFlash(ctx),
      approval: a, agent, commits: commitList, diff, stale, votes: view.votes, required: view.required, configChecks: c.checksConfig,
    }));
  });

  r.get('/approvals/:id/file', ...d.guard, async (ctx) => {
    const a = c.getApproval(requestId(ctx));
    const path = typeof ctx.query.path === 'string' ? ctx.query.path : '';
    if (!path) throw new HyperhiveError('bad_request', 'query parameter "path" is required');
    if (!a.base || !a.head) throw new HyperhiveError('not_found', `request #${a.id} has no diff`);
    const frag = await diffs.renderFileLazy(`${a.base}..${a.head}`, () => c.approvalDiff(a.id), path, parseDiffFormat(ctx.query.view));
    if (!frag) throw new HyperhiveError('not_found', `request #${a.id} does not change ${JSON.stringify(path.slice(0, 200))}`);
    html(ctx, frag);
  });

  const decide = (action: 'approve' | 'reject') => async (ctx: Context) => {
    const id = c.getApproval(requestId(ctx)).id;
    const form = await readJson(ctx);
    await formAction(ctx, { to: `/approvals/${id}`, refusedPrefix: `${action === 'approve' ? 'Approval' : 'Rejection'} refused: ` }, async () => {
      if (action === 'approve') {
        const always = form.always === 'true' || form.always === 'on';
        const a = await c.allowTool(id, who(ctx), { always, pattern: typeof form.pattern === 'string' ? form.pattern.trim() : undefined });
        if (a.kind === 'tool') {
          return a.always ? `tool request #${id} allowed once; ${a.always.pattern} proposed${a.always.request ? ` as change request #${a.always.request}` : ''}: it takes effect once approved` : `tool request #${id} allowed once`;
        }
        if (a.status === 'pending') {
          const v = c.approvalView(a);
          const n = v.votes.filter((x) => x.decision === 'approve').length;
          return `your approval of request #${id} is recorded: ${n} of ${v.required}; it needs ${v.required - n} more from another operator`;
        }
        return `request #${id} approved: applied moved to ${short(a.head)}`;
      }
      const reason = typeof form.reason === 'string' ? form.reason.trim() : '';
      if (!reason) throw new HyperhiveError('bad_request', 'a rejection needs a reason');
      const r = await c.reject(id, who(ctx), reason);
      return r.kind === 'tool' ? `tool request #${id} denied: the agent reads your message` : `request #${id} rejected`;
    });
  };
  r.post('/approvals/:id/approve', ...d.guard, decide('approve'));
  r.post('/approvals/:id/reject', ...d.guard, decide('reject'));

  return r;
}
