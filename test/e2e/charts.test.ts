import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { browserUnavailable, launchBrowser, screenshot, watchPageErrors } from '../helpers/browser.ts';
import { startServer } from '../helpers/server.ts';

// Real Chromium against a real server: turn reports posted with the agent's token show up as uPlot
// charts with data on the agent page, and live (without a reload) when more come.

const unavailable = browserUnavailable();
const e2e = unavailable ? test.skip : test;
if (unavailable) console.log(`skipped: the charts e2e test needs Chromium: ${unavailable}`);

const report = (durationMs: number) => ({
  class: 'ok', startedAt: new Date().toISOString(), durationMs, tools: { Bash: 1 }, costUsd: 0.03, numTurns: 1, permissionDenials: 0, model: 'sonnet',
  usage: { inputTokens: 10, outputTokens: 10, cacheReadTokens: 0, cacheCreationTokens: 0 }, sentTo: { peer: 0, operator: 0, manager: 0, system: 0 },
});

e2e('the agent page shows turns, duration, cost and inbox charts with data; the fleet page too', async (t) => {
  t.timeout(180_000);
  const s = await startServer();
  const browser = await launchBrowser();
  t.teardown(async () => { await browser.close().catch(() => undefined); await s.close(); });
  t.is((await s.api('POST', '/api/agents', { name: 'alice' })).status, 201);
  const token = fs.readFileSync(path.join(s.state, 'agents', 'alice', 'token'), 'utf8').trim();
  for (const d of [1200, 3400, 800]) t.is((await s.api('POST', '/api/agents/alice/turns', report(d), { authorization: `Bearer ${token}` })).status, 201);

  const page = await browser.newPage({ viewport: { width: 1300, height: 1000 } });
  page.setDefaultTimeout(60_000);
  const errors = watchPageErrors(page);
  const missing: string[] = [];
  page.on('response', (r) => { if (r.status() === 404) missing.push(new URL(r.url()).pathname); });
  await page.goto(`${s.url}/login?next=%2Fagents%2Falice`);
  await page.fill('#token', s.token);
  await page.click('button[type=submit]');
  await page.waitForURL(`${s.url}/agents/alice`);

  await page.waitForSelector('[data-testid="chart-turns"].hh-chart-has-data canvas');
  t.true(Number(await page.getAttribute('[data-testid="chart-turns"]', 'data-points')) >= 1, 'non-empty minute buckets');
  await page.waitForSelector('[data-testid="chart-duration"].hh-chart-has-data canvas');
  await page.waitForSelector('[data-testid="chart-cost"].hh-chart-has-data canvas');
  t.truthy(await page.$('[data-testid="chart-inbox"] canvas'), 'inbox chart drawn (data only where a bus samples depths)');
  t.false(await page.isVisible('[data-testid="chart-turns"] .hh-chart-empty'));
  const box = await page.$eval('[data-testid="chart-turns"] canvas', (c) => ({ w: (c as HTMLCanvasElement).width, h: (c as HTMLCanvasElement).height }));
  t.true(box.w > 100 && box.h > 100);

  // A turn arriving later shows up without a reload (SSE → refresh → refetch).
  t.is((await s.api('POST', '/api/agents/alice/turns', report(500), { authorization: `Bearer ${token}` })).status, 201);
  await page.waitForFunction(() => {
    const c = (window as unknown as { hyperhiveCharts?: { charts: { spec: { series: { key: string }[] }; plot: { data: (number | null)[][] } | null }[] } }).hyperhiveCharts;
    const turns = c?.charts.find((x) => x.spec.series[0]!.key === 'turns');
    return !!turns?.plot && turns.plot.data[1]!.reduce((a: number, v) => a + (v ?? 0), 0) === 4;
  }, undefined, { timeout: 60_000 });
  await screenshot(page, 'charts-agent');

  await page.goto(`${s.url}/fleet`);
  await page.waitForSelector('[data-testid="chart-fleet-turns"].hh-chart-has-data canvas');
  t.truthy(await page.$('tr[data-agent="alice"]'));
  await screenshot(page, 'charts-fleet');
  // Every chart here plots a count, cost, depth or duration: its y axis starts at 0.
  const yMins = await page.evaluate(() => (window as unknown as { hyperhiveCharts: { charts: { plot: { scales: { y: { min: number } } } | null }[] } }).hyperhiveCharts.charts
    .filter((c) => c.plot).map((c) => c.plot!.scales.y.min));
  t.true(yMins.length >= 3, `${yMins.length} charts drawn`);
  t.deepEqual(yMins, yMins.map(() => 0));
  // Pages name their icon, so the browser asks for no /favicon.ico either: every resource loads.
  t.deepEqual(missing, [], 'every asset found');
  t.deepEqual(errors, [], 'no console errors or CSP violations');
});
