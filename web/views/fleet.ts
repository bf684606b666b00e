import type { AgentView } from '../../controller/controller.ts';
import { fleetCharts } from './charts.ts';
import { conditionBadges } from './components.ts';
import { html, type SafeHtml } from './html.ts';
import { layout } from './layout.ts';

export interface FleetRow { agent: AgentView; lastTurnAt: number | null; turnsLastHour: number; costLastHour: number; inboxDepth: number | null }

const ago = (t: number | null, now: number): string => {
  if (t === null) return 'never';
  const s = Math.max(0, Math.round((now - t) / 1000));
  return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
};

/** `/fleet`: every agent's figures side by side, and fleet-wide charts. */
export function fleetPage(d: { now: number; csrf: string | null; identity: string; rows: FleetRow[] }): SafeHtml {
  return layout({
    title: 'Fleet', page: 'fleet', csrf: d.csrf, identity: d.identity, live: true,
    body: html`<h1>Fleet</h1>
<section class="hh-section" id="fleet-table" data-live>
<table class="hh-table"><thead><tr><th>agent</th><th>conditions</th><th>last turn</th><th>turns (1 h)</th><th>cost (1 h)</th><th>inbox</th></tr></thead>
<tbody>${d.rows.map((r) => html`<tr data-agent="${r.agent.name}"><td><a href="/agents/${r.agent.name}">${r.agent.name}</a></td><td>${conditionBadges(r.agent.conditions)}</td>
<td>${ago(r.lastTurnAt, d.now)}</td><td>${r.turnsLastHour}</td><td>$${r.costLastHour.toFixed(4)}</td><td>${r.inboxDepth ?? '—'}</td></tr>`)}</tbody></table>
</section>
${fleetCharts(d.rows.map((r) => r.agent.name))}`,
  });
}
