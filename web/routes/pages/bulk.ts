import Router from '@koa/router';
import { parseAgentQuery } from '../../../controller/agents/query.ts';
import { HyperhiveError } from '../../../controller/errors.ts';
import { BULK_ACTIONS, type BulkPlan } from '../../../controller/ops/bulk.ts';
import { readForm } from '../../body.ts';
import { who, type PageContext } from './context.ts';
import { flash } from './flash.ts';
import { formAction } from './form-action.ts';

/**
 * `POST /agents/bulk`, the dashboard's bulk form: the checked rows (`names`) or, with scope=matching,
 * every agent the listed filter (`f_*` fields) selects. Back to the same filtered page with one flash
 * line for the batch and one per agent that failed.
 */
export function bulkPagesRouter(d: PageContext): Router {
  const r = new Router();
  r.post('/agents/bulk', ...d.guard, async (ctx) => {
    const form = await readForm(ctx);
    const raw: Record<string, string> = {};
    for (const [k, v] of form) if (k.startsWith('f_')) raw[k.slice(2)] = v;
    const filter = parseAgentQuery(raw);
    const back = form.get('back') ?? '/';
    const action = form.get('action') ?? '';
    await formAction(ctx, { to: back.startsWith('/') && !back.startsWith('//') ? back : '/' }, async () => {
      if (!(BULK_ACTIONS as readonly string[]).includes(action)) throw new HyperhiveError('bad_request', `choose an action: ${BULK_ACTIONS.join(', ')}`, { field: 'action' });
      const matching = form.get('scope') === 'matching';
      const names = [...new Set(form.getAll('names'))];
      if (!matching && !names.length) throw new HyperhiveError('bad_request', 'select agents (the boxes in the list), or tick "all matching the filter"', { field: 'names' });
      const reason = form.get('reason')?.trim();
      const plan: BulkPlan = { action: action as BulkPlan['action'], names: matching ? null : names, filter: matching ? filter : null, reason: reason || 'rejected in bulk from the dashboard' };
      const out = await d.controller.bulk(plan, who(ctx));
      for (const x of out.results) if (x.result === 'failed') flash(ctx, 'error', `${x.name}: ${x.error?.message ?? 'failed'}`);
      return `${action}: ${out.done} done, ${out.unchanged} unchanged, ${out.failed} failed of ${out.matched} (bulk ${out.id})`;
    });
  });
  return r;
}
