import { html, type SafeHtml } from './html.ts';
import { layout } from './layout.ts';

export interface LoginData { error?: string | null; next?: string; tokenFile?: string | null }

export function loginPage(d: LoginData): SafeHtml {
  return layout({
    title: 'Log in', page: 'login', identity: null,
    flash: d.error ? [{ kind: 'error', message: d.error }] : [],
    body: html`<section class="hh-card hh-login">
<h1>Log in</h1>
<p>Paste the operator token${d.tokenFile ? html` (the contents of <code>${d.tokenFile}</code>)` : html` (the contents of <code>operator.token</code> in the state dir)`}.</p>
<form method="post" action="/login">
<input type="hidden" name="next" value="${d.next ?? '/'}">
<label for="token">Operator token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Log in</button>
</form>
</section>`,
  });
}
