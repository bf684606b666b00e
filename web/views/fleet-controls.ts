import { CONDITIONS, queryParams, SORT_KEYS, STATES, type AgentQuery, type FleetCounts } from '../../controller/agents/query.ts';
import { BULK_ACTIONS } from '../../controller/ops/bulk.ts';
import type { ApprovalKind } from '../../controller/approvals/store.ts';
import { html, type SafeHtml } from './html.ts';
import { csrfField } from './layout.ts';

// The dashboard's fleet controls: counts per condition (each a filter link), the filter form, the
// pager, the bulk bar; and the approval queue's sort and kind filter. The agents table's rows carry
// checkboxes bound to the bulk form by its id (form="bulk").

/** What the dashboard lists: the query it ran, how many agents matched, the fleet's counts. */
export interface FleetListing { query: AgentQuery; total: number; counts: FleetCounts }

export const QUEUE_SORTS = ['age', '-age', 'agent', '-agent'] as const;
export type QueueSort = (typeof QUEUE_SORTS)[number];
export const QUEUE_KINDS: ApprovalKind[] = ['change', 'spawn', 'revive', 'destroy', 'tool'];
export interface QueueQuery { sort: QueueSort; kind: ApprovalKind | null }

const BULK_LABELS: Record<(typeof BULK_ACTIONS)[number], string> = {
  suspend: 'Suspend', resume: 'Resume', 'reject-requests': 'Reject their open requests (approve none)',
};

/** The dashboard URL for a query (with the queue's own parameters kept). */
export function dashboardHref(q: AgentQuery, over: Partial<AgentQuery> = {}, queue?: QueueQuery): string {
  const p = queryParams(q, over);
  // The dashboard's page size is 50 unless asked otherwise: leave it out of links.
  if (p.get('limit') === '50') p.delete('limit');
  if (queue?.sort && queue.sort !== 'age') p.set('qsort', queue.sort);
  if (queue?.kind) p.set('qkind', queue.kind);
  const s = p.toString();
  return s ? `/?${s}` : '/';
}

const BLANK: Partial<AgentQuery> = { condition: null, reason: null, state: null, suspended: null, offset: 0 };

function chip(label: string, n: number, href: string, active: boolean, testid: string): SafeHtml {
  return html`<a class="hh-filter-chip${active ? ' hh-filter-on' : ''}" href="${href}" data-testid="${testid}"${active ? html` aria-current="true"` : ''}>${label} <span class="hh-count">${n}</span></a>`;
}

/** Counts per condition and state at the top: a click filters the list to them. */
export function fleetCounts(l: FleetListing, queue?: QueueQuery): SafeHtml {
  const q = l.query; const c = l.counts;
  const only = (over: Partial<AgentQuery>) => dashboardHref(q, { ...BLANK, ...over }, queue);
  const isOnly = (over: Partial<AgentQuery>) => (Object.keys(BLANK) as (keyof AgentQuery)[]).every((k) => k === 'offset' || JSON.stringify(q[k]) === JSON.stringify({ ...BLANK, ...over }[k]));
  const reasons = Object.entries(c.stalledReasons).sort(([a], [b]) => (a < b ? -1 : 1));
  return html`<nav class="hh-fleet-counts" id="fleet-counts" aria-label="agents by condition">
${chip('All', c.total - c.kept, only({}), isOnly({}), 'count-all')}
${CONDITIONS.map((t) => chip(t, c[t], only({ condition: t }), isOnly({ condition: t }), `count-${t.toLowerCase()}`))}
${reasons.map(([r, n]) => chip(`Stalled: ${r}`, n, only({ condition: 'Stalled', reason: r }), isOnly({ condition: 'Stalled', reason: r }), `count-stalled-${r}`))}
${chip('suspended', c.suspended, only({ suspended: true }), isOnly({ suspended: true }), 'count-suspended')}
${(['draft', 'pending', 'kept'] as const).map((s) => chip(s, c[s], only({ state: [s] }), isOnly({ state: [s] }), `count-${s}`))}
</nav>`;
}

const SORT_LABELS: Record<(typeof SORT_KEYS)[number], string> = { name: 'name', state: 'state', condition: 'condition (problems first)', created: 'created', updated: 'updated' };

/** A GET form: search by name, condition, state, suspended, sort. Submitting starts at the first page. */
export function fleetFilterForm(q: AgentQuery, queue?: QueueQuery): SafeHtml {
  const sort = `${q.desc ? '-' : ''}${q.sort}`;
  return html`<form class="hh-inline-form hh-fleet-filter" method="get" action="/" id="fleet-filter" role="search">
<input type="search" name="q" value="${q.q ?? ''}" placeholder="name contains" aria-label="search by name" maxlength="32" data-testid="filter-q">
<select name="condition" aria-label="condition" data-testid="filter-condition"><option value="">any condition</option>${CONDITIONS.map((c) => html`<option value="${c}"${q.condition === c ? html` selected` : ''}>${c}</option>`)}</select>
${q.reason ? html`<input type="hidden" name="reason" value="${q.reason}">` : ''}
<select name="state" aria-label="state" data-testid="filter-state"><option value="">active, draft, pending</option>${STATES.map((s) => html`<option value="${s}"${q.state?.length === 1 && q.state[0] === s ? html` selected` : ''}>${s}</option>`)}</select>
<label><input type="checkbox" name="suspended" value="1"${q.suspended ? html` checked` : ''} data-testid="filter-suspended"> suspended only</label>
<select name="sort" aria-label="sort" data-testid="filter-sort">${SORT_KEYS.flatMap((k) => [k, `-${k}`]).map((k) => html`<option value="${k}"${sort === k ? html` selected` : ''}>${k.startsWith('-') ? `${SORT_LABELS[k.slice(1) as keyof typeof SORT_LABELS]} ↓` : SORT_LABELS[k as keyof typeof SORT_LABELS]}</option>`)}</select>
${q.limit !== null && q.limit !== 50 ? html`<input type="hidden" name="limit" value="${q.limit}">` : ''}
${queue?.sort && queue.sort !== 'age' ? html`<input type="hidden" name="qsort" value="${queue.sort}">` : ''}${queue?.kind ? html`<input type="hidden" name="qkind" value="${queue.kind}">` : ''}
<button type="submit">Filter</button>${q.q || q.condition || q.reason || q.state || q.suspended !== null ? html` <a href="${dashboardHref(q, { ...BLANK, q: null }, queue)}">clear</a>` : ''}
</form>`;
}

/** "51–100 of 1000", previous and next. */
export function fleetPager(l: FleetListing, shown: number, queue?: QueueQuery): SafeHtml {
  const q = l.query; const size = q.limit ?? Math.max(shown, 1);
  if (l.total <= size && q.offset === 0) return html``;
  const prev = Math.max(0, q.offset - size); const next = q.offset + size;
  return html`<nav class="hh-pager" aria-label="pages" data-testid="pager">
${q.offset > 0 ? html`<a href="${dashboardHref(q, { offset: prev }, queue)}" rel="prev" data-testid="page-prev">← previous</a>` : html`<span class="hh-muted">← previous</span>`}
<span data-testid="page-range">${shown ? `${q.offset + 1}–${q.offset + shown}` : 'none'} of ${l.total}</span>
${next < l.total ? html`<a href="${dashboardHref(q, { offset: next }, queue)}" rel="next" data-testid="page-next">next →</a>` : html`<span class="hh-muted">next →</span>`}
</nav>`;
}

/** The bulk form: the rows' checkboxes belong to it; "all matching" acts on every agent the filter selects, on every page. */
export function bulkBar(l: FleetListing, csrf: string | null): SafeHtml {
  const q = l.query;
  const filter = queryParams(q, { limit: null, offset: 0, sort: 'name', desc: false });
  return html`<form class="hh-inline-form hh-bulk" method="post" action="/agents/bulk" id="bulk" data-testid="bulk-form">
${csrfField(csrf)}
${[...filter].map(([k, v]) => html`<input type="hidden" name="f_${k}" value="${v}">`)}
<input type="hidden" name="back" value="${dashboardHref(q)}">
<label><input type="checkbox" id="bulk-page" data-testid="bulk-page"> select this page</label>
<label><input type="checkbox" name="scope" value="matching" data-testid="bulk-matching"> all ${l.total} matching the filter</label>
<span class="hh-muted" id="bulk-selected" data-testid="bulk-selected" aria-live="polite"></span>
<select name="action" aria-label="bulk action" data-testid="bulk-action">${BULK_ACTIONS.map((a) => html`<option value="${a}">${BULK_LABELS[a]}</option>`)}</select>
<input type="text" name="reason" placeholder="reason (reject)" maxlength="500" aria-label="reason for rejecting">
<button type="submit" data-testid="bulk-submit">Apply</button>
</form>`;
}

export const rowCheckbox = (name: string): SafeHtml => html`<input type="checkbox" name="names" value="${name}" form="bulk" aria-label="select ${name}" data-testid="select-${name}">`;

/** The queue's sort (age, agent) and kind filter, as links. */
export function queueControls(qq: QueueQuery, agentsQuery: AgentQuery, counts: Partial<Record<ApprovalKind, number>>): SafeHtml {
  const href = (over: Partial<QueueQuery>) => `${dashboardHref(agentsQuery, {}, { ...qq, ...over })}#queue`;
  const sortLink = (key: 'age' | 'agent', label: string) => {
    const on = qq.sort === key || qq.sort === `-${key}`;
    const nextSort = (qq.sort === key ? `-${key}` : key) as QueueSort;
    return html`<a href="${href({ sort: nextSort })}" class="hh-filter-chip${on ? ' hh-filter-on' : ''}" data-testid="queue-sort-${key}">${label}${on ? (qq.sort.startsWith('-') ? ' ↓' : ' ↑') : ''}</a>`;
  };
  return html`<nav class="hh-queue-controls" aria-label="queue order and kind">
sort by ${sortLink('age', key('age', qq))} ${sortLink('agent', 'agent')}
· kind ${chip('all', Object.values(counts).reduce((a, b) => a + (b ?? 0), 0), href({ kind: null }), !qq.kind, 'queue-kind-all')}
${QUEUE_KINDS.filter((k) => counts[k] || qq.kind === k).map((k) => chip(k, counts[k] ?? 0, href({ kind: k }), qq.kind === k, `queue-kind-${k}`))}
</nav>`;
}

const key = (k: 'age', qq: QueueQuery): string => (qq.sort === '-age' ? 'age (newest first)' : 'age (oldest first)');
