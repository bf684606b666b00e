import Router from '@koa/router';
import type { Context } from 'koa';
import type { Transcripts, TurnTranscript } from '../../../controller/transcripts/index.ts';
import { HyperhiveError } from '../../../controller/errors.ts';
import { idParam, intQuery } from '../../params.ts';
import type { TranscriptRenderContext } from '../../views/transcript.ts';
import { agentTurnsSections, turnFragment, turnPage, turnsPage } from '../../views/turns.ts';
import { html, sessionOf, who, type PageContext } from './context.ts';

/** On the agent page, the current turn shows its last this many events (the turn's page has them all). */
export const AGENT_PAGE_EVENTS = 200;

export function requireTranscripts(d: PageContext): Transcripts {
  if (!d.transcripts) throw new HyperhiveError('not_found', 'turn transcripts are not available: none are wired into this controller');
  return d.transcripts;
}

const renderContext = (d: PageContext, t: Transcripts, id: number): TranscriptRenderContext => ({ diffs: d.diffs, toolNames: t.store.toolNames(id) });

/**
 * The agent page's turn sections: the running turn (else the last one), its last events only, and
 * the recent turns. An app.js refresh swaps [data-live] sections only, so it gets the list alone.
 */
export function agentTurns(d: PageContext, ctx: Context, agent: string) {
  const t = d.transcripts;
  if (!t) return null;
  const refresh = ctx.get('x-hh-refresh') === '1';
  const recent = t.list(agent, { limit: 10 });
  const latest = refresh ? null : t.running(agent) ?? recent[0] ?? null;
  const current: TurnTranscript | null = latest ? t.get(agent, latest.id, { after: Math.max(0, latest.events - AGENT_PAGE_EVENTS) }) : null;
  return agentTurnsSections({ agent, current, recent, now: d.now(), ctx: current ? renderContext(d, t, current.id) : { diffs: d.diffs, toolNames: new Map() } });
}

/** `/agents/:name/turns` (a window of them: the chart's points link here), a turn's page, and the fragment a live page appends. */
export function turnsPagesRouter(d: PageContext): Router {
  const r = new Router();
  const c = d.controller;

  r.get('/agents/:name/turns', ...d.guard, (ctx) => {
    const t = requireTranscripts(d);
    const name = ctx.params.name!;
    c.requireAgent(name);
    const range = { since: intQuery(ctx, 'since', { unit: 'ms since the epoch' }), until: intQuery(ctx, 'until', { unit: 'ms since the epoch' }) };
    const turns = t.list(name, { ...range, limit: 200 });
    // A chart point stands for the turns of its minute: with one, the reader wants that one.
    if ((range.since !== undefined || range.until !== undefined) && turns.length === 1) { ctx.status = 303; ctx.redirect(`/agents/${encodeURIComponent(name)}/turns/${turns[0]!.id}`); return; }
    html(ctx, turnsPage({ agent: name, turns, now: d.now(), csrf: sessionOf(ctx)?.csrf ?? null, identity: who(ctx).name, range, retention: t.store.retention }));
  });

  r.get('/agents/:name/turns/:id', ...d.guard, (ctx) => {
    const t = requireTranscripts(d);
    const id = idParam(ctx.params.id, 'turn id');
    const turn = t.get(ctx.params.name!, id);
    html(ctx, turnPage({ t: turn, now: d.now(), csrf: sessionOf(ctx)?.csrf ?? null, identity: who(ctx).name, ctx: renderContext(d, t, id) }));
  });

  r.get('/agents/:name/turns/:id/events', ...d.guard, (ctx) => {
    const t = requireTranscripts(d);
    const id = idParam(ctx.params.id, 'turn id');
    const turn = t.get(ctx.params.name!, id, { after: intQuery(ctx, 'after', { unit: 'an event seq' }) ?? 0 });
    html(ctx, turnFragment(turn, d.now(), renderContext(d, t, id)));
  });
  return r;
}
