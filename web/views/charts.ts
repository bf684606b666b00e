import { html, type SafeHtml } from './html.ts';

// Chart containers filled by /assets/charts.js with uPlot (from its npm package, served under /vendor/).
// Not [data-live]: app.js swaps live sections on every event, which would throw the charts away;
// charts.js refetches their data itself.

export interface ChartSpec {
  id: string; title: string; unit: string; series: { agent: string; key: string; agg?: string; label?: string }[]; step?: string; since?: string;
  /** A click on a point opens this page for the point's bucket (`?since=&until=`): the turns behind it. */
  link?: string;
}

const assets = html`<link rel="stylesheet" href="/vendor/uPlot.min.css"><link rel="stylesheet" href="/assets/charts.css">
<script src="/vendor/uPlot.iife.min.js" defer></script><script src="/assets/charts.js" defer></script>`;

export function chartsSection(o: { id: string; title: string; charts: ChartSpec[] }): SafeHtml {
  return html`<section class="hh-section hh-charts" id="${o.id}">
<h2>${o.title} <span class="hh-muted hh-charts-window">last hour</span></h2>
<div class="hh-chart-grid">${o.charts.map((c) => html`<figure class="hh-chart" data-chart="${JSON.stringify(c)}" data-testid="chart-${c.id}">
<figcaption>${c.title} <span class="hh-muted">(${c.unit})</span></figcaption><div class="hh-chart-plot"></div><p class="hh-chart-empty hh-muted">No data yet.</p></figure>`)}</div>
</section>${assets}`;
}

/** The agent page's charts: turns/min, turn duration p50/p95, cost, inbox depth; the turn charts' points link to their turns. */
export function agentCharts(agent: string, turnsLink?: string): SafeHtml {
  const link = turnsLink ? { link: turnsLink } : {};
  return chartsSection({
    id: 'charts', title: 'Activity',
    charts: [
      { id: 'turns', title: 'Turns per minute', unit: 'turns/min', series: [{ agent, key: 'turns', agg: 'sum', label: 'turns' }], ...link },
      { id: 'duration', title: 'Turn duration', unit: 's', series: [{ agent, key: 'turn_duration_ms', agg: 'p50', label: 'p50' }, { agent, key: 'turn_duration_ms', agg: 'p95', label: 'p95' }], ...link },
      { id: 'cost', title: 'Cost', unit: 'USD/min', series: [{ agent, key: 'cost_usd', agg: 'sum', label: 'cost' }], ...link },
      { id: 'inbox', title: 'Inbox depth', unit: 'messages', series: [{ agent, key: 'inbox_depth', agg: 'max', label: 'max' }] },
    ],
  });
}

/** The fleet page's charts: one series per agent, plus the approval queue. */
export function fleetCharts(agents: string[]): SafeHtml {
  const per = (key: string, agg: string) => agents.map((agent) => ({ agent, key, agg, label: agent }));
  return chartsSection({
    id: 'fleet-charts', title: 'Fleet',
    charts: [
      { id: 'fleet-turns', title: 'Turns per minute', unit: 'turns/min', series: per('turns', 'sum') },
      { id: 'fleet-cost', title: 'Cost', unit: 'USD/min', series: per('cost_usd', 'sum') },
      { id: 'fleet-inbox', title: 'Inbox depth', unit: 'messages', series: per('inbox_depth', 'max') },
      { id: 'fleet-duration', title: 'Turn duration p95', unit: 's', series: per('turn_duration_ms', 'p95') },
      { id: 'fleet-approvals', title: 'Approval queue', unit: 'requests', series: [{ agent: '*', key: 'approvals_pending', agg: 'max', label: 'open requests' }] },
    ],
  });
}
