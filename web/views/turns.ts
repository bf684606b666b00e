import type { TurnSummary, TurnTranscript } from '../../controller/transcripts/types.ts';
import { html, type SafeHtml } from './html.ts';
import { layout } from './layout.ts';
import { transcriptEvents, turnHeader, turnsTable, type TranscriptRenderContext } from './transcript.ts';

// The turn views: one turn's page, an agent's turns, and the agent page's live section. A running
// turn is followed by /assets/turns.js over the page's event stream: it fetches the events after the
// last one shown (the fragment) and appends them.

export const TURN_ASSETS = html`<link rel="stylesheet" href="/vendor/diff2html.min.css"><link rel="stylesheet" href="/assets/turns.css"><script src="/assets/turns.js" defer></script>`;

/** The fragment turns.js fetches: the turn's header and its events after `after`. */
export function turnFragment(t: TurnTranscript, now: number, ctx: TranscriptRenderContext): SafeHtml {
  return html`<div class="hh-turn-fragment">${turnHeader(t, now)}<ol class="hh-transcript">${transcriptEvents(t.transcript, ctx)}</ol></div>`;
}

/** A turn, followed live while it runs (`data-follow`). */
export function turnView(t: TurnTranscript | null, now: number, ctx: TranscriptRenderContext, o: { agent: string; empty?: string }): SafeHtml {
  return html`<div class="hh-turn" data-follow data-agent="${o.agent}"${t ? html` data-turn="${t.id}"` : ''} data-testid="turn-view">
${t ? html`${turnHeader(t, now)}<ol class="hh-transcript" data-testid="transcript">${transcriptEvents(t.transcript, ctx)}</ol>` : html`<p class="hh-muted hh-turn-empty">${o.empty ?? 'No turn yet.'}</p><ol class="hh-transcript" data-testid="transcript"></ol>`}
</div>`;
}

/** The agent page's sections: the current (or last) turn live, and the recent turns. */
export function agentTurnsSections(o: { agent: string; current: TurnTranscript | null; recent: TurnSummary[]; now: number; ctx: TranscriptRenderContext }): SafeHtml {
  return html`<section class="hh-section" id="turn-live"><h2>${o.current?.status === 'running' ? 'Turn in progress' : 'Last turn'} <a class="hh-muted hh-small" href="/agents/${o.agent}/turns">all turns</a></h2>
${turnView(o.current, o.now, o.ctx, { agent: o.agent, empty: 'No turn yet: the next one shows here as it runs.' })}</section>
<section class="hh-section" id="turns" data-live><h2>Recent turns</h2>${turnsTable(o.recent, o.now)}</section>${TURN_ASSETS}`;
}

export function turnPage(o: { t: TurnTranscript; now: number; csrf: string | null; identity: string; ctx: TranscriptRenderContext }): SafeHtml {
  const t = o.t;
  return layout({
    title: `${t.agent} turn #${t.id}`, page: 'turn', csrf: o.csrf, identity: o.identity, live: true, agent: t.agent,
    body: html`<p class="hh-meta"><a href="/agents/${t.agent}">${t.agent}</a> › <a href="/agents/${t.agent}/turns">turns</a></p>
<h1>${t.agent} · turn #${t.id}</h1>
<section class="hh-section" id="turn-live">${turnView(t, o.now, o.ctx, { agent: t.agent })}</section>${TURN_ASSETS}`,
  });
}

export function turnsPage(o: { agent: string; turns: TurnSummary[]; now: number; csrf: string | null; identity: string; range: { since?: number; until?: number }; retention: { maxTurns: number; maxBytes: number } }): SafeHtml {
  const r = o.range;
  const window = r.since !== undefined || r.until !== undefined
    ? html`<p class="hh-muted">Turns that ended ${r.since !== undefined ? html`from ${new Date(r.since).toISOString()}` : ''} ${r.until !== undefined ? html`until ${new Date(r.until).toISOString()}` : ''} · <a href="/agents/${o.agent}/turns">all turns</a></p>` : '';
  return layout({
    title: `${o.agent} turns`, page: 'turns', csrf: o.csrf, identity: o.identity, live: true, agent: o.agent,
    body: html`<p class="hh-meta"><a href="/agents/${o.agent}">${o.agent}</a> › turns</p>
<h1>${o.agent} · turns</h1>${window}
<section class="hh-section" id="turns" data-live>${turnsTable(o.turns, o.now, 'No turns in this window.')}
<p class="hh-muted">Transcripts are kept for the last ${o.retention.maxTurns} turns or ${Math.round(o.retention.maxBytes / 1024 / 1024)} MiB of events per agent, whichever is smaller.</p></section>`,
  });
}
