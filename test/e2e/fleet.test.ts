import { screenshot } from '../helpers/browser.ts';
import { gitc, pushByPath, repoOf } from '../helpers/git.ts';
import { createAgents } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';
import { browserSuite, logIn } from './suite.ts';

// The dashboard's fleet controls in real Chromium against a real server: the counts and the condition
// filter, pages, a bulk suspend of ticked rows and a bulk resume of "all matching", the queue's sort
// and kind filter.

const T = 60_000;
const NAMES = ['alpha', 'beta', 'delta', 'epsilon', 'eta', 'gamma', 'zeta'];

const { e2e, url } = browserSuite('fleet e2e tests', {
  prefix: 'hh-fleet-e2e-', viewport: { width: 1400, height: 1000 }, timeoutMs: T, serve: { configCheck: false },
  setup: async (t) => {
    const s = t.context.server;
    await createAgents(s, NAMES);
    // beta stalls with a reason: its applied ref is gone.
    gitc(repoOf(s.state, 'beta'), 'update-ref', '-d', 'refs/heads/applied');
    await waitFor('beta stalled', async () => (await s.api('GET', '/api/agents?condition=Stalled&reason=AppliedRefMissing')).body.length === 1);
    await waitFor('the rest ready', async () => (await s.api('GET', '/api/agents?condition=Ready')).body.length === NAMES.length - 1, T);
    await logIn(t.context, '/');
  },
});

const rows = (page: import('playwright-core').Page) => page.locator('#agents tbody tr[data-agent]').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-agent')));

e2e('counts per condition at the top; the Stalled chip and the filter form narrow the list', async (t) => {
  t.timeout(120_000);
  const { page } = t.context;
  await page.goto(url(t, '/'));
  t.is(await page.textContent('[data-testid=count-all] .hh-count'), '7');
  t.is(await page.textContent('[data-testid=count-stalled] .hh-count'), '1');
  t.is(await page.textContent('[data-testid=count-ready] .hh-count'), '6');
  t.is(await page.textContent('[data-testid=count-stalled-AppliedRefMissing] .hh-count'), '1');
  t.deepEqual(await rows(page), NAMES);

  await page.click('[data-testid=count-stalled-AppliedRefMissing]');
  await page.waitForURL(/condition=Stalled&reason=AppliedRefMissing/);
  t.deepEqual(await rows(page), ['beta']);
  t.is(await page.textContent('[data-testid=agents-total]'), '1');
  t.is(await page.getAttribute('[data-testid=count-stalled-AppliedRefMissing]', 'aria-current'), 'true');
  await screenshot(page, 'fleet-filter-stalled');

  await page.goto(url(t, '/'));
  await page.selectOption('[data-testid=filter-condition]', 'Ready');
  await page.fill('[data-testid=filter-q]', 'eta');
  await page.click('#fleet-filter button[type=submit]');
  await page.waitForURL(/condition=Ready/);
  t.deepEqual(await rows(page), ['beta', 'eta', 'zeta'].filter((n) => n !== 'beta'), 'Ready and "eta" in the name: beta is stalled');
  await page.selectOption('[data-testid=filter-sort]', '-name');
  await page.click('#fleet-filter button[type=submit]');
  await page.waitForURL(/sort=-name/);
  t.deepEqual(await rows(page), ['zeta', 'eta'], 'the sort keeps the filter');
});

e2e('pages: previous and next keep the filter; the range and total are shown', async (t) => {
  t.timeout(120_000);
  const { page } = t.context;
  await page.goto(url(t, '/?limit=3'));
  t.deepEqual(await rows(page), ['alpha', 'beta', 'delta']);
  t.is(await page.textContent('[data-testid=page-range]'), '1–3 of 7');
  await page.click('[data-testid=page-next]');
  await page.waitForURL(/offset=3/);
  t.deepEqual(await rows(page), ['epsilon', 'eta', 'gamma']);
  t.is(await page.textContent('[data-testid=page-range]'), '4–6 of 7');
  await page.click('[data-testid=page-next]');
  t.deepEqual(await rows(page), ['zeta']);
  t.is(await page.locator('[data-testid=page-next]').count(), 0, 'no next page after the last');
  await page.click('[data-testid=page-prev]');
  await page.waitForURL(/offset=3/);
  t.deepEqual(await rows(page), ['epsilon', 'eta', 'gamma']);
  // With a filter: the Ready agents, two a page.
  await page.goto(url(t, '/?condition=Ready&limit=2'));
  await page.click('[data-testid=page-next]');
  await page.waitForURL(/condition=Ready&limit=2&offset=2/);
  t.deepEqual(await rows(page), ['epsilon', 'eta']);
});

e2e('bulk suspend of ticked rows, one audit row each; bulk resume of all matching the filter', async (t) => {
  t.timeout(120_000);
  const { page, server } = t.context;
  await page.goto(url(t, '/'));
  await page.waitForSelector('#live-status.hh-live-on');
  await page.check('[data-testid=select-gamma]');
  await page.check('[data-testid=select-zeta]');
  t.is(await page.textContent('[data-testid=bulk-selected]'), '2 selected');
  // A live refresh (any event) replaces the section (not while focus is inside it); the selection survives it.
  await page.focus('#new-agent-name');
  await server.api('POST', '/api/agents/alpha/model', { model: 'opus' });
  await page.waitForFunction(() => document.querySelector('tr[data-agent=alpha] [data-testid=model-chip]')?.textContent?.includes('opus'));
  t.true(await page.isChecked('[data-testid=select-gamma]'));
  await page.selectOption('[data-testid=bulk-action]', 'suspend');
  await page.click('[data-testid=bulk-submit]');
  await page.waitForSelector('.hh-flash-ok');
  t.regex(await page.textContent('.hh-flash-ok') ?? '', /^suspend: 2 done, 0 unchanged, 0 failed of 2 \(bulk [0-9a-f]{8}\)$/);
  t.regex(await page.textContent('tr[data-agent=gamma]') ?? '', /suspended/);
  t.regex(await page.textContent('tr[data-agent=zeta]') ?? '', /suspended/);
  t.notRegex(await page.textContent('tr[data-agent=eta]') ?? '', /suspended/);
  t.deepEqual((await server.api('GET', '/api/agents?suspended=1')).body.map((a: { name: string }) => a.name), ['gamma', 'zeta']);
  const audit = (await server.api('GET', '/api/audit')).body as { action: string; agent: string; actor: string }[];
  t.deepEqual(audit.filter((e) => e.action === 'suspend').map((e) => `${e.actor}:${e.agent}`).sort(), ['operator:gamma', 'operator:zeta']);
  t.is(await page.textContent('[data-testid=count-suspended] .hh-count'), '2');
  await screenshot(page, 'fleet-bulk-suspended');

  await page.click('[data-testid=count-suspended]');
  await page.waitForURL(/suspended=1/);
  await page.check('[data-testid=bulk-matching]');
  await page.selectOption('[data-testid=bulk-action]', 'resume');
  await page.click('[data-testid=bulk-submit]');
  await page.waitForSelector('.hh-flash-ok');
  t.regex(await page.textContent('.hh-flash-ok') ?? '', /^resume: 2 done/);
  t.regex(page.url(), /suspended=1/, 'back on the same filtered page');
  t.is(await page.textContent('[data-testid=agents-total]'), '0');
  t.deepEqual((await server.api('GET', '/api/agents?suspended=1')).body, []);

  // Nothing ticked and not "all matching": refused with the reason, nothing done.
  await page.goto(url(t, '/'));
  await page.click('[data-testid=bulk-submit]');
  await page.waitForSelector('.hh-flash-error');
  t.regex(await page.textContent('.hh-flash-error') ?? '', /select agents/);
});

e2e('the approval queue sorts by agent and by age, and filters by kind', async (t) => {
  t.timeout(120_000);
  const { page, server } = t.context;
  // One after another, each raised before the next push: the queue's age order is theirs.
  for (const [i, n] of ['zeta', 'alpha', 'gamma'].entries()) {
    pushByPath(repoOf(server.state, n), { 'prompt.md': `new prompt for ${n}\n` });
    await waitFor(`request ${i + 1}`, async () => (await server.api('GET', '/api/approvals?status=pending')).body.length === i + 1);
  }
  await page.goto(url(t, '/'));
  const queueAgents = () => page.locator('#queue tr[data-approval] td:nth-child(3)').allTextContents();
  t.deepEqual(await queueAgents(), ['zeta', 'alpha', 'gamma'], 'oldest first');
  await page.click('[data-testid=queue-sort-agent]');
  await page.waitForURL(/qsort=agent/);
  t.deepEqual(await queueAgents(), ['alpha', 'gamma', 'zeta']);
  await page.click('[data-testid=queue-sort-agent]');
  await page.waitForURL(/qsort=-agent/);
  t.deepEqual(await queueAgents(), ['zeta', 'gamma', 'alpha']);
  await page.click('[data-testid=queue-sort-age]');
  await page.waitForURL(/\/(#queue)?$|\?(?!.*qsort)/);
  t.deepEqual(await queueAgents(), ['zeta', 'alpha', 'gamma']);
  t.is(await page.textContent('[data-testid=queue-kind-change] .hh-count'), '3');
  await page.click('[data-testid=queue-kind-change]');
  await page.waitForURL(/qkind=change/);
  t.is((await queueAgents()).length, 3);
  await page.goto(url(t, '/?qkind=tool'));
  t.is(await page.locator('#queue tr[data-approval]').count(), 0);
  t.regex(await page.textContent('#queue') ?? '', /No tool requests waiting/);
  t.deepEqual(t.context.errors, []);
});
