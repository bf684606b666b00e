import fs from 'node:fs';
import { repoOf } from '../helpers/git.ts';
import { createAgents } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';
import { screenshot } from '../helpers/browser.ts';
import { browserSuite, logIn } from './suite.ts';

// The lifecycle in real Chromium: destroy from the agent page, the dashboard's kept-state section,
// a revive raised there and approved on its request page (the agent runs again), and a purge that
// needs the name typed (a wrong one deletes nothing).

const T = 60_000;
const { e2e, url } = browserSuite('lifecycle pages', {
  prefix: 'hh-e2e-life-', viewport: { width: 1280, height: 900 }, timeoutMs: T,
  setup: async ({ context }) => {
    await createAgents(context.server, ['worker']);
    await logIn(context, '/');
  },
});

e2e('destroy from the agent page; the kept-state section shows it', async (t) => {
  t.timeout(120_000);
  const { page, server } = t.context;
  const before = (await server.api('GET', '/api/agents/worker')).body;
  fs.writeFileSync(`${server.state}/agents/worker/state/notes.bin`, Buffer.alloc(5000, 1));
  await page.goto(url(t, '/agents/worker'));
  await page.fill('#destroy-reason', 'taking a break');
  let asked = '';
  page.once('dialog', (d) => { asked = d.message(); void d.accept(); });
  await page.click('[data-testid=destroy]');
  await page.waitForSelector('.hh-flash-ok:has-text("worker destroyed")');
  t.is(new URL(page.url()).pathname, '/');
  t.regex(asked, /^Destroy worker\? It stops now/, 'the browser asked first');
  const row = page.locator('#kept tr[data-kept=worker]');
  await row.waitFor();
  t.is((await row.locator('[data-testid=destroyed-by]').textContent())?.trim(), 'operator');
  t.regex(await row.textContent() ?? '', /taking a break/);
  t.regex((await row.locator('[data-testid=state-size]').textContent()) ?? '', /^\d+(\.\d)? KB$/);
  t.is(await row.locator('[data-testid=kept-applied]').getAttribute('title'), before.applied);
  t.is(await page.locator('#agents tr[data-agent=worker]').count(), 0, 'not in the running fleet');
  // The kept section comes before drafts and approvals.
  const order = await page.evaluate(() => [...document.querySelectorAll('section[id]')].map((s) => s.id));
  t.true(order.indexOf('kept') < order.indexOf('queue'), order.join(','));
  await screenshot(page, 'lifecycle-kept-section');
  await page.goto(url(t, '/agents/worker'));
  t.regex(await page.textContent('[data-testid=kept-banner]') ?? '', /kept.*destroyed .* by operator/s);
  t.deepEqual(t.context.errors, []);
});

e2e('a revive raised from the kept section and approved in the UI: the agent runs again', async (t) => {
  t.timeout(120_000);
  const { page, server } = t.context;
  const kept = (await server.api('GET', '/api/agents/worker')).body;
  await page.goto(url(t, '/'));
  await page.click('#kept tr[data-kept=worker] [data-testid=revive]');
  await page.waitForURL(/\/approvals\/\d+$/);
  t.is(await page.getAttribute('[data-testid=revive-head]', 'title'), kept.applied, 'shows the revision that will start');
  t.regex(await page.textContent('[data-testid=revive-state-size]') ?? '', /KB/);
  t.regex(await page.textContent('[data-testid=revive-surface]') ?? '', /tools/);
  await screenshot(page, 'lifecycle-revive-request');
  await page.goto(url(t, '/'));
  t.is(await page.locator('#kept tr[data-kept=worker] [data-testid=revive-request]').count(), 1, 'the kept row links its revive request');
  await page.click('#kept tr[data-kept=worker] [data-testid=revive-request]');
  await page.click('[data-testid=approve]');
  await page.waitForSelector('[data-testid=approval-status]:has-text("approved")');
  const running = await waitFor('worker running again', async () => {
    const a = (await server.api('GET', '/api/agents/worker')).body;
    return a.state === 'active' && a.runtime.state === 'running' ? a : null;
  });
  t.is(running.runtime.revision, kept.applied);
  t.true(fs.existsSync(`${server.state}/agents/worker/state/notes.bin`), 'with its state');
  await page.goto(url(t, '/'));
  t.is(await page.locator('#kept tr[data-kept=worker]').count(), 0);
  t.is(await page.locator('#agents tr[data-agent=worker]').count(), 1);
  t.deepEqual(t.context.errors, []);
});

e2e('a destroy shows live on the dashboard; purge from the UI needs the name typed', async (t) => {
  t.timeout(120_000);
  const { page, server } = t.context;
  await page.goto(url(t, '/'));
  await page.locator('#agents tr[data-agent=worker]').waitFor();
  // Destroyed elsewhere (the API): the open dashboard shows it kept without a reload.
  t.is((await server.api('POST', '/api/agents/worker/destroy', {})).status, 200);
  const row = page.locator('#kept tr[data-kept=worker]');
  await row.waitFor();
  await page.locator('#agents tr[data-agent=worker]').waitFor({ state: 'detached' });
  await row.locator('[data-testid=purge-confirm]').fill('wroker');
  await row.locator('[data-testid=purge]').click();
  await page.waitForSelector('.hh-flash-error:has-text("Purge refused")');
  t.regex(await page.textContent('.hh-flash-error') ?? '', /nothing was deleted/);
  t.true(fs.existsSync(repoOf(server.state, 'worker')), 'a wrong name deletes nothing');
  await page.locator('#kept tr[data-kept=worker] [data-testid=purge-confirm]').fill('worker');
  await page.locator('#kept tr[data-kept=worker] [data-testid=purge]').click();
  await page.waitForSelector('.hh-flash-ok:has-text("worker purged")');
  t.is(await page.locator('#kept tr[data-kept=worker]').count(), 0);
  t.false(fs.existsSync(repoOf(server.state, 'worker')));
  t.is((await server.api('GET', '/api/agents/worker')).status, 404);
  t.deepEqual(t.context.errors, []);
});

e2e("the manager's destroy request on its page: who asked and why; rejected from the UI, the agent runs on", async (t) => {
  t.timeout(120_000);
  const { page, server } = t.context;
  await createAgents(server, ['helper']);
  const before = await waitFor('helper running', async () => { const a = (await server.api('GET', '/api/agents/helper')).body; return a.runtime.state === 'running' ? a : null; });
  // What the manager's request_destroy does (the MCP tool calls the same operation).
  const rq = await server.controller.requestDestroy('helper', { kind: 'agent', name: 'manager' }, 'idle for a week');
  await page.goto(url(t, `/approvals/${rq.id}`));
  t.regex(await page.textContent('[data-testid=destroy-details]') ?? '', /manager asks to destroy helper: “?idle for a week”?\. Approving stops its runtime/);
  await page.fill('#reject-reason', 'still needed');
  await page.click('[data-testid=reject]');
  await page.waitForSelector('[data-testid=approval-status]:has-text("rejected")');
  const after = (await server.api('GET', '/api/agents/helper')).body;
  t.like(after, { state: 'active' });
  t.is(after.runtime.pid, before.runtime.pid, 'the same process runs on');
  t.deepEqual(t.context.errors, []);
});
