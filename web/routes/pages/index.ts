import Router from '@koa/router';
import { DiffRenderer } from '../../views/diff.ts';
import { agentRouter } from './agent.ts';
import { approvalRouter } from './approval.ts';
import type { PageContext, PagesOptions } from './context.ts';
import { bulkPagesRouter } from './bulk.ts';
import { dashboardRouter } from './dashboard.ts';
import { pageGuard } from './guard.ts';
import { inboxRouter } from './inbox.ts';
import { keptRouter } from './kept.ts';
import { liveRouter } from './live.ts';
import { loginRouter } from './login.ts';
import { RevisionCache } from './revisions.ts';
import { turnsPagesRouter } from './turns.ts';

export type { PagesBus, PagesOptions } from './context.ts';

/** Server-rendered pages, their form posts (post/redirect/get with a flash message), SSE, and the slash-command API: one router per page. */
export function pagesRouter(o: PagesOptions): Router {
  const d: PageContext = { ...o, now: o.now ?? Date.now, diffs: o.diffs ?? new DiffRenderer(), guard: pageGuard(o.auth), revisions: new RevisionCache(o.controller) };
  const r = new Router();
  for (const page of [loginRouter, dashboardRouter, bulkPagesRouter, agentRouter, turnsPagesRouter, inboxRouter, approvalRouter, liveRouter, keptRouter]) r.use(page(d).routes());
  return r;
}
