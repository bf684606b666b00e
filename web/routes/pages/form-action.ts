import type { Context } from 'koa';
import { isHyperhiveError } from '../../../controller/errors.ts';
import { flash } from './flash.ts';

export interface FormActionTarget {
  /** Where the browser goes next (303, post/redirect/get). */
  to: string;
  /** Where it goes when the action was refused; `to` when absent. */
  refusedTo?: string;
  /** Put before a refusal's message ("Approval refused: "). */
  refusedPrefix?: string;
}

/**
 * A form post's one shape: run the action, flash its message (or a refusal's, a HyperhiveError), answer
 * 303 to the page. Anything else is a bug and goes on up; errors raised before the action (unknown
 * agent, bad body) reach the page guard, which answers HTML to browsers and JSON to scripts.
 */
export async function formAction(ctx: Context, target: FormActionTarget, action: () => string | Promise<string>): Promise<void> {
  let to = target.to;
  try {
    flash(ctx, 'ok', await action());
  } catch (e) {
    if (!isHyperhiveError(e)) throw e;
    flash(ctx, 'error', `${target.refusedPrefix ?? ''}${e.message}`);
    to = target.refusedTo ?? to;
  }
  ctx.status = 303;
  ctx.redirect(to);
}
