import { html, type SafeHtml } from './html.ts';
import { layout } from './layout.ts';

export function errorPage(d: { status: number; message: string; identity: string | null; csrf: string | null }): SafeHtml {
  return layout({
    title: `Error ${d.status}`, page: 'error', identity: d.identity, csrf: d.csrf,
    body: html`<section class="hh-card"><h1>${d.status === 404 ? 'Not found' : `Error ${d.status}`}</h1>
<p class="hh-flash hh-flash-error" role="alert">${d.message}</p>
<p><a href="/">Back to the dashboard</a></p></section>`,
  });
}
