import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { screenshot } from '../helpers/browser.ts';
import { pushByPath, refOf, repoOf } from '../helpers/git.ts';
import { tmpDir } from '../helpers/paths.ts';
import { waitFor } from '../helpers/wait.ts';
import { browserSuite } from './suite.ts';

// The operator on a phone (390×844, real Chromium): a named operator logs in, reads the approval
// queue, approves a change from its page (the diff readable, line by line), and answers tool calls
// the real harness (with the fake CLI speaking the stdio permission protocol) queued: allow once,
// allow always, deny. No page scrolls sideways.

const T = 60_000;
const FAKE = fileURLToPath(new URL('../helpers/fake-claude.mjs', import.meta.url));
const FIX = fileURLToPath(new URL('../fixtures/stream/ok-tool-calls.jsonl', import.meta.url));
const dir = tmpDir('hh-phone-plan-');
const planFile = path.join(dir, 'plan.json');
const log = path.join(dir, 'calls.jsonl');
const bash = (command: string) => ({ name: 'Bash', input: { command, description: `runs ${command}` } });
fs.writeFileSync(planFile, JSON.stringify({ log, turns: [{ fixture: FIX, tools: [bash('npm run build -- --production --verbose --with-a-rather-long-flag-name'), bash('npm test'), bash('make deploy')] }] }));
const permissions = (): any[] => { try { return fs.readFileSync(`${log}.permissions.jsonl`, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)); } catch { return []; } };

const { e2e, test } = browserSuite('phone-sized e2e tests', {
  prefix: 'hh-e2e-phone-', viewport: { width: 390, height: 844 }, timeoutMs: T,
  serve: { agentCommand: undefined, agentCli: FAKE, agentEnv: () => ({ FAKE_CLAUDE_PLAN: planFile, HYPERHIVE_TOOL_POLL_MS: '500' }) },
});
test.after.always(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The page itself never scrolls sideways (inner boxes such as a wide table may). */
async function noSideScroll(page: Page): Promise<{ scroll: number; width: number }> {
  return page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
}
async function assertFits(t: { true(v: boolean, m?: string): void }, page: Page, what: string): Promise<void> {
  const { scroll, width } = await noSideScroll(page);
  t.true(scroll <= width, `${what}: page is ${scroll}px wide in a ${width}px viewport`);
}
/** Visible and on screen once scrolled to: a thumb can reach it. */
async function reachable(page: Page, selector: string): Promise<boolean> {
  const el = page.locator(selector);
  await el.scrollIntoViewIfNeeded();
  const box = await el.boundingBox();
  return !!box && box.x >= 0 && box.x + box.width <= 390 && box.width >= 40 && box.height >= 30;
}

e2e('at 390×844: a named operator logs in, the queue fits, a change is approved from its page with a readable diff', async (t) => {
  t.timeout(240_000);
  const { page, server } = t.context;
  const alice = (await server.api('POST', '/api/operators', { name: 'alice' })).body.token as string;
  t.is((await server.api('POST', '/api/agents', { name: 'worker' })).status, 201);
  await page.goto(`${server.url}/login`);
  await page.fill('#token', alice);
  await page.click('button[type=submit]');
  await page.waitForURL(`${server.url}/`);
  t.is((await page.textContent('[data-testid=whoami]'))?.trim(), 'alice', 'the header says who is logged in');
  await assertFits(t, page, 'dashboard');

  const long = Array.from({ length: 30 }, (_, i) => `line ${i}: ${'a fairly long line of prompt text that would not fit a phone screen at all '.repeat(2)}`).join('\n');
  const head = pushByPath(repoOf(server.state, 'worker'), { 'prompt.md': `${long}\n` }, { message: 'A long prompt for worker' });
  const row = page.locator('#queue [data-approval]');
  await row.first().waitFor({ timeout: T });
  await assertFits(t, page, 'dashboard with a queued request');
  await screenshot(page, 'phone-dashboard');
  await row.first().locator('a').first().click();
  await page.waitForURL(/\/approvals\/\d+\?view=line$/);
  t.true(await page.locator('.d2h-file-diff').count() > 0, 'line by line on a phone');
  t.regex((await page.locator('.d2h-ins .d2h-code-line-ctn').allTextContents()).join('\n'), /line 29: a fairly long line/);
  await page.waitForSelector('[data-testid=config-check]:has-text("Config evaluates")', { timeout: T });
  await assertFits(t, page, 'approval page');
  t.true(await reachable(page, '[data-testid=approve]'), 'the approve button can be tapped');
  t.true(await reachable(page, '[data-testid=reject]'));
  await screenshot(page, 'phone-approval');
  await page.click('[data-testid=approve]');
  await page.waitForSelector('.hh-flash');
  t.regex(await page.textContent('.hh-flash') ?? '', /approved: applied moved to/);
  t.is(await page.textContent('[data-testid=approval-status]'), 'approved');
  t.is(refOf(repoOf(server.state, 'worker'), 'applied'), head);
  const decided = (await server.api<any[]>('GET', '/api/approvals?agent=worker&status=approved')).body[0];
  t.is(decided.decidedBy, 'alice', 'the decision carries the operator who made it');
});

e2e('at 390×844: tool calls the harness queued are allowed once, allowed always and denied from the phone; the CLI gets each answer', async (t) => {
  t.timeout(240_000);
  const { page, server, errors } = t.context;
  await waitFor('worker running its applied revision', async () => { const a = (await server.api('GET', '/api/agents/worker')).body; return a.runtime.state === 'running' && a.runtime.revision === a.applied; }, T);
  t.is((await server.api('POST', '/api/agents/worker/messages', { body: 'build, test and deploy' })).status, 201);

  await page.goto(`${server.url}/`);
  const toolRow = page.locator('#queue [data-approval]');
  await toolRow.first().waitFor({ timeout: T });
  t.regex(await toolRow.first().textContent() ?? '', /tool[\s\S]*worker[\s\S]*Bash[\s\S]*npm run build/);
  await assertFits(t, page, 'dashboard with a tool request');
  await toolRow.first().locator('a').first().click();
  await page.waitForURL(/\/approvals\/\d+$/);
  t.regex(await page.textContent('[data-testid=tool-command]') ?? '', /\$ npm run build -- --production --verbose --with-a-rather-long-flag-name/, 'a Bash command shown as a command');
  t.regex(await page.textContent('#tool-context') ?? '', /build, test and deploy/, "the agent's recent messages");
  await assertFits(t, page, 'tool request page');
  for (const b of ['allow-once', 'allow-always', 'deny']) t.true(await reachable(page, `[data-testid=${b}]`), `${b} can be tapped`);
  await screenshot(page, 'phone-tool-request');
  await page.click('[data-testid=allow-once]');
  await page.waitForSelector('.hh-flash-ok:has-text("allowed once")');
  t.is(await page.textContent('[data-testid=approval-status]'), 'approved');
  await waitFor('the CLI got the allow', () => permissions()[0]?.answer?.response?.behavior === 'allow', T);
  t.deepEqual(permissions()[0].answer.response.updatedInput, bash('npm run build -- --production --verbose --with-a-rather-long-flag-name').input);

  // The next call: allow always, with the pattern the page suggests.
  const second = await waitFor('the second tool request', async () => (await server.api<any[]>('GET', '/api/approvals?agent=worker&kind=tool&status=pending')).body[0], T);
  await page.goto(`${server.url}/approvals/${second.id}`);
  t.is(await page.inputValue('#always-pattern'), 'Bash(npm test)');
  await page.click('[data-testid=allow-always]');
  await page.waitForSelector('.hh-flash-ok:has-text("proposed as change request")');
  const link = page.locator('[data-testid=always] a');
  t.regex(await link.textContent() ?? '', /change request #\d+/);
  const changeHref = (await link.getAttribute('href'))!;
  await waitFor('the CLI got the second allow', () => permissions()[1]?.answer?.response?.behavior === 'allow', T);

  // The third: denied with a message the agent reads.
  const third = await waitFor('the third tool request', async () => (await server.api<any[]>('GET', '/api/approvals?agent=worker&kind=tool&status=pending')).body[0], T);
  await page.goto(`${server.url}/approvals/${third.id}`);
  await page.fill('#deny-reason', 'not from a phone');
  await page.click('[data-testid=deny]');
  await page.waitForSelector('.hh-flash-ok:has-text("denied")');
  const p = await waitFor('the CLI got the deny', () => permissions()[2]?.answer && permissions()[2], T);
  t.deepEqual(p.answer.response, { behavior: 'deny', message: 'Denied by operator alice: not from a phone' });

  // The allow-always change is a request like any other, readable on the phone.
  await page.goto(`${server.url}${changeHref}`);
  await page.waitForURL(/\/approvals\/\d+\?view=line$/);
  t.regex((await page.locator('.d2h-ins .d2h-code-line-ctn').allTextContents()).join('\n'), /"Bash\(npm test\)"/);
  await assertFits(t, page, 'the allow-always change');
  for (const p2 of ['/operators', '/webhooks']) { await page.goto(`${server.url}${p2}`); await assertFits(t, page, p2); }
  t.deepEqual(errors.filter((e) => /Content Security Policy|Refused to/.test(e)), [], 'no CSP violations');
});
