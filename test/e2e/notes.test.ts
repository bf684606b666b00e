import { screenshot } from '../helpers/browser.ts';
import { browserSuite } from './suite.ts';
import { pushByPath, repoOf } from '../helpers/git.ts';

// An agent's notes.md on its page in real Chromium: tables, task lists and nested lists render under
// the page's CSP (no violation, so no inline style), and an image from outside is never fetched.

const T = 60_000;
const { e2e, url } = browserSuite('notes e2e tests', { prefix: 'hh-e2e-notes-', viewport: { width: 1200, height: 900 }, timeoutMs: T });

const NOTES = [
  '# Memory', '',
  '| task | state | cost |', '|:--|:-:|--:|', '| build | done | 0.25 |', '',
  '- [ ] write tests', '- [x] ship it', '- parent', '  - child', '    - grandchild', '',
  '![pixel](http://127.0.0.2:9/pixel.png) <script>document.title = "owned"</script>', '',
  '[bad](javascript:document.title="owned") [good](https://example.com/)',
].join('\n');

e2e('notes: a table aligned by class, disabled task checkboxes, nested lists; no CSP violation and no image fetched', async (t) => {
  t.timeout(120_000);
  const { page, server } = t.context;
  t.is((await server.api('POST', '/api/agents', { name: 'alpha' })).status, 201);
  pushByPath(repoOf(server.state, 'alpha'), { 'notes.md': NOTES }, { message: 'notes with a table and tasks', branch: 'live' });
  const foreign: string[] = [];
  page.on('request', (r) => { if (!r.url().startsWith(server.url)) foreign.push(r.url()); });
  await page.goto(url(t, '/login'));
  await page.fill('#token', server.token);
  await page.click('button[type=submit]');
  await page.waitForURL(url(t, '/'));
  await page.goto(url(t, '/agents/alpha'));
  const notes = page.locator('article.hh-markdown');
  await notes.locator('table').waitFor();
  t.is(await notes.locator('th').count(), 3);
  // The alignment comes from the stylesheet's classes: an inline style would have been blocked.
  t.deepEqual(await notes.locator('td').evaluateAll((cells) => cells.map((c) => getComputedStyle(c).textAlign)), ['left', 'center', 'right']);
  const boxes = notes.locator('input[type=checkbox]');
  t.is(await boxes.count(), 2);
  t.deepEqual(await boxes.evaluateAll((b) => (b as HTMLInputElement[]).map((x) => [x.disabled, x.checked])), [[true, false], [true, true]]);
  t.is(await notes.locator('ul ul ul li').textContent(), 'grandchild');
  t.is(await notes.locator('img').count(), 0);
  t.is(await notes.locator('a.hh-md-image').getAttribute('href'), 'http://127.0.0.2:9/pixel.png');
  t.is(await notes.locator('script').count(), 0);
  t.is(await notes.locator('a[href^="javascript"]').count(), 0);
  t.is(await notes.locator('a[href="https://example.com/"]').count(), 1);
  t.not(await page.title(), 'owned');
  await screenshot(page, 'notes');
  t.deepEqual(foreign, []);
  t.deepEqual(t.context.errors, []);
});
