import type { RuntimeHealth } from '../../controller/runtime/types.ts';
import { age, html, isoTime, type SafeHtml } from './html.ts';

function line(h: RuntimeHealth, now: number): SafeHtml {
  const w = h.watcher;
  const mode = h.kind === 'nspawn' ? (h.systemd ? 'transient systemd units' : 'supervised by the controller') : 'local child processes';
  const watcher = w
    ? html` · D-Bus watcher <span class="hh-status hh-watch-${w.state}" data-testid="watcher-state">${w.state}</span> <span class="hh-muted">(${w.address}, since <time datetime="${isoTime(w.since)}">${age(w.since, now)}</time>${w.reconnects ? html`, ${w.reconnects} reconnect${w.reconnects === 1 ? '' : 's'}` : ''}${w.lastError && w.state !== 'connected' ? html`; ${w.lastError}` : ''})</span>`
    : '';
  return html`<li data-runtime="${h.kind}"><strong>${h.kind}</strong> — ${mode}${h.isolated ? '' : html` <span class="hh-tag hh-tag-warn" title="${h.note}">not isolated</span>`}${watcher}</li>`;
}

/** The runtime section of the dashboard: which runtime(s) agents run on, and the health of its watcher. */
export function runtimeSection(h: RuntimeHealth | undefined, now: number): SafeHtml {
  if (!h) return html``;
  return html`<section class="hh-section" id="runtime" data-live>
<h2>Runtime</h2>
<ul class="hh-runtime">${[h, ...(h.backends ?? [])].map((x) => line(x, now))}</ul>
</section>`;
}
