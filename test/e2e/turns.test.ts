import fs from 'node:fs';
import path from 'node:path';
import { screenshot } from '../helpers/browser.ts';
import { CLI, tmpDir } from '../helpers/paths.ts';
import { createAgents } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';
import { browserSuite, logIn } from './suite.ts';

// Real Chromium, the real harness and the scripted stand-in for claude: a turn's text and tool calls
// appear on the agent page while the turn runs (it waits on a file this test creates only after it
// saw them), then the finished transcript is reached from its point on the chart and its log line.

const dir = tmpDir('hh-e2e-turns-');
const gate = path.join(dir, 'gate');
const script = path.join(dir, 'script.json');
const XSS = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">';
fs.writeFileSync(script, JSON.stringify({ steps: [
  { reply: `Looking at the repo first. ${XSS}` },
  { simulate: { tool: 'Bash', input: { command: 'ls -la /srv/app', description: 'List the app' }, result: `total 8\n${XSS}\n` } },
  { simulate: { tool: 'Edit', input: { file_path: 'src/app.ts', old_string: 'const retries = 1;\n', new_string: 'const retries = 3;\n' } , result: 'The file src/app.ts has been updated.' } },
  { wait: { file: gate, timeoutMs: 120_000 } },
  { reply: 'Raised the retries to 3.' },
] }));

const { e2e, url } = browserSuite('the live turn e2e tests', {
  prefix: 'hh-e2e-turns-state-', viewport: { width: 1300, height: 1100 }, timeoutMs: 60_000,
  serve: {
    agentCommand: undefined, configCheck: false,
    agentEnv: () => ({ HYPERHIVE_AGENT_CLI: `${process.execPath} ${CLI} scripted-agent`, HYPERHIVE_SCRIPT: script }),
  },
  setup: async ({ context: c }) => {
    await createAgents(c.server, ['alice']);
    await logIn(c, '/agents/alice');
  },
});

e2e('the turn in progress shows live: its text, a Bash command, an Edit as a diff; script in it stays text', async (t) => {
  const { page, server } = t.context;
  t.timeout(180_000);
  t.truthy(await page.$('#turn-live .hh-turn-empty'), 'no turn yet');
  t.is((await server.api('POST', '/api/agents/alice/messages', { body: 'please raise the retries' })).status, 201);
  await page.waitForSelector('#turn-live [data-testid="bash-command"]');
  t.regex((await page.textContent('#turn-live [data-testid="bash-command"]'))!, /\$ ls -la \/srv\/app/);
  await page.waitForSelector('#turn-live [data-testid="edit-diff"] .d2h-ins');
  t.regex((await page.textContent('#turn-live [data-testid="edit-diff"]'))!, /const retries = 3;/);
  t.is(await page.getAttribute('#turn-live .hh-turn-head', 'data-status'), 'running', 'seen while the turn runs: it waits for the gate');
  t.regex((await page.textContent('#turn-live h2'))!, /Turn in progress/);
  t.true((await page.textContent('#turn-live .hh-ev-text'))!.includes('<script>window.__pwned = 1</script>'), 'the script shows as text');
  t.is(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined, 'nothing from the transcript ran');
  t.deepEqual(await page.$$eval('#turn-live [data-testid="tool-name"]', (els) => els.map((e) => e.textContent)), ['Bash', 'Edit']);
  await screenshot(page, 'turn-live-running');

  fs.writeFileSync(gate, 'go\n');
  await page.waitForSelector('#turn-live .hh-turn-head[data-status="done"]');
  await page.waitForFunction(() => /Raised the retries to 3/.test(document.querySelector('#turn-live')?.textContent ?? ''));
  t.regex((await page.textContent('#turn-live [data-testid="turn-status"]'))!, /ok/);
  t.regex((await page.textContent('#turn-live h2'))!, /Last turn/);
  await page.waitForSelector('#turns tr[data-turn]');
  t.is(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
  t.deepEqual(t.context.errors, [], 'no console errors or CSP violations');
});

e2e('the finished transcript is reached from its point on the chart and from its log line', async (t) => {
  const { page, server } = t.context;
  t.timeout(180_000);
  const turns = (await server.api('GET', '/api/agents/alice/turns')).body as { id: number; class: string }[];
  const id = turns.find((x) => x.class === 'ok')!.id;
  await page.goto(url(t, '/agents/alice'));
  await page.waitForSelector('[data-testid="chart-turns"].hh-chart-has-data canvas');
  // Where uPlot drew the turn's bucket: the chart's own scale says which pixel; the pointer goes
  // there until uPlot's cursor is on that bucket (the chart may redraw meanwhile), then clicks.
  const spot = () => page.evaluate(() => {
    const c = (window as unknown as { hyperhiveCharts: { charts: { spec: { id: string }; plot: any }[] } }).hyperhiveCharts.charts.find((x) => x.spec.id === 'turns')!;
    const u = c.plot;
    const idx = (u.data[1] as (number | null)[]).findIndex((v) => v !== null && v > 0);
    const box = u.over.getBoundingClientRect();
    return { idx, x: box.left + u.valToPos(u.data[0][idx], 'x'), y: box.top + u.valToPos(u.data[1][idx], 'y'), cursor: u.cursor.idx as number | null };
  });
  const at = await waitFor('the cursor on the turn\'s bucket', async () => {
    await page.mouse.move((await spot()).x, (await spot()).y);
    const now = await spot();
    return now.idx >= 0 && now.cursor === now.idx && now;
  }, 60_000);
  await page.mouse.click(at.x, at.y);
  await page.waitForURL(new RegExp(`/agents/alice/turns/${id}$`));
  await page.waitForSelector('[data-testid="transcript"] [data-testid="bash-command"]');
  t.regex((await page.textContent('h1'))!, new RegExp(`turn #${id}`));
  t.regex((await page.textContent('[data-testid="transcript"]'))!, /Raised the retries to 3/);
  await screenshot(page, 'turn-page');

  await page.goto(url(t, '/agents/alice'));
  const link = await page.waitForSelector(`#agent-log [data-testid="log-turn-link"][href="/agents/alice/turns/${id}"]`);
  await link.click();
  await page.waitForURL(new RegExp(`/agents/alice/turns/${id}$`));
  t.deepEqual(t.context.errors, [], 'no console errors or CSP violations');
});
