// Every view builds HTML through `html` so that interpolated values are escaped unless a view
// deliberately marks them as already-safe markup (diff2html output, other rendered fragments).

export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string { return this.value; }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

const UNSAFE = /[&<>"'`]/;

export function escapeHtml(value: unknown): string {
  const s = String(value ?? '');
  // Most values (names, SHAs, states) have nothing to escape: a test is cheaper than a replace.
  return UNSAFE.test(s) ? s.replace(/[&<>"'`]/g, (c) => ESCAPES[c]!) : s;
}

/** Marks trusted markup as safe; only for output of a renderer that escaped its own input. */
export const raw = (markup: string): SafeHtml => new SafeHtml(markup);

export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

function render(v: HtmlValue): string {
  if (v === null || v === undefined || v === false) return '';
  if (v instanceof SafeHtml) return v.value;
  if (Array.isArray(v)) return v.map(render).join('');
  return escapeHtml(v);
}

/** Tagged template: `html\`<p>${userText}</p>\`` escapes userText; arrays are joined; null/false render nothing. */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
  return new SafeHtml(out);
}

export const join = (parts: readonly HtmlValue[], sep: HtmlValue = ''): SafeHtml =>
  new SafeHtml(parts.map(render).join(render(sep)));

/** Query string from an object, dropping empty values; every key and value URL-encoded. */
export function query(params: Record<string, string | number | null | undefined>): string {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return parts.length ? `?${parts.join('&')}` : '';
}

export const shortSha = (sha: string | null | undefined): string => (sha ? sha.slice(0, 8) : '—');

/** "3m ago"-style age; `now` passed in so views stay pure. */
export function age(ts: number | null | undefined, now: number): string {
  if (!ts) return '—';
  const s = Math.max(0, Math.round((now - ts) / 1000));
  if (s < 60) return `${s}s ago`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m}m ago`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h}h ago`;
  return `${Math.round(h / 24)}d ago`;
}

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || ms < 0) return '—';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

export const isoTime = (ts: number | null | undefined): string => (ts ? new Date(ts).toISOString() : '');
