import path from 'node:path';
import type { Page } from 'playwright-core';
import { screenshot, watchPageErrors } from '../helpers/browser.ts';
import { createAgents } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';
import { browserSuite, logIn } from './suite.ts';

// Real Chromium, the real terminal WebSocket, a real PTY in the process runtime: the agent page's
// terminal renders the shell, follows the window's size, comes back after a reload with its
// scrollback, shows a second viewer read-only, and says why it cannot open.

type TermState = { connected: boolean; role: string | null; session: string | null; cols: number; rows: number; ended: { message: string } | null };
const state = (p: Page) => p.evaluate(() => (window as unknown as { hyperhiveTerminal: { state(): TermState } }).hyperhiveTerminal.state());
const rendered = (p: Page) => p.evaluate(() => (window as unknown as { hyperhiveTerminal: { text(): string } }).hyperhiveTerminal.text());
const lines = (p: Page) => p.evaluate(() => (window as unknown as { hyperhiveTerminal: { lines(): string[] } }).hyperhiveTerminal.lines());
const seeRendered = (p: Page, re: RegExp, what: string) => waitFor(what, async () => re.test(await rendered(p)), 60_000);
async function typeLine(p: Page, text: string): Promise<void> {
  await p.click('[data-testid="terminal-box"]');
  await p.keyboard.type(text);
  await p.keyboard.press('Enter');
}

const { e2e, url } = browserSuite('the terminal e2e tests', {
  prefix: 'hh-e2e-term-', viewport: { width: 1200, height: 1000 }, timeoutMs: 60_000, serve: { configCheck: false },
  setup: async ({ context: c }) => {
    await createAgents(c.server, ['alice']);
    await c.server.controller.createAgent('drafty', { kind: 'operator', name: 'operator' }, 'draft');
    await waitFor('alice running', async () => (await c.server.api('GET', '/api/agents/alice')).body.runtime.state === 'running');
    await logIn(c, '/agents/alice');
  },
});

e2e('the terminal opens on the agent page: echo $HYPERHIVE_AGENT; pwd shows the agent and its state dir, rendered', async (t) => {
  const { page, server } = t.context;
  t.regex((await page.textContent('[data-testid="terminal-isolation"]'))!, /isolates nothing/);
  await page.click('[data-testid="terminal-open"]');
  await waitFor('the writer role', async () => (await state(page)).role === 'writer', 60_000);
  t.regex((await page.textContent('[data-testid="terminal-role"]'))!, /you have the keyboard/);
  await typeLine(page, 'echo $HYPERHIVE_AGENT; pwd');
  const dir = path.join(server.state, 'agents', 'alice', 'state');
  await seeRendered(page, new RegExp(`(^|\\n)alice\\s*\\n${dir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\s*(\\n|$)`), 'the agent name and its directory on screen');
  await screenshot(page, 'terminal-echo');
  t.deepEqual(t.context.errors, [], 'no console errors or CSP violations');
});

e2e('resizing the page changes stty size', async (t) => {
  const { page } = t.context;
  await typeLine(page, 'clear; stty size');
  const before = await state(page);
  await seeRendered(page, new RegExp(`(^|\\n)${before.rows} ${before.cols}\\s*(\\n|$)`), 'stty size = the terminal\'s size');
  await page.setViewportSize({ width: 800, height: 900 });
  await waitFor('the terminal refit to the narrower window', async () => (await state(page)).cols < before.cols, 30_000);
  const after = await state(page);
  await typeLine(page, 'clear; stty size');
  await seeRendered(page, new RegExp(`(^|\\n)${after.rows} ${after.cols}\\s*(\\n|$)`), `stty size ${after.rows} ${after.cols}`);
  t.true(after.cols < before.cols, `${before.cols} → ${after.cols} columns`);
  await page.setViewportSize({ width: 1200, height: 1000 });
});

e2e('a reload shows the screen and the scrollback again: the same session, restored by the server', async (t) => {
  const { page } = t.context;
  await typeLine(page, 'echo "SCROLL-MARK-$((20+3))"; seq 1 200');
  await seeRendered(page, /(^|\n)200\s*\n/, 'the end of seq');
  const session = (await state(page)).session;
  await page.reload();
  await waitFor('the terminal reopened on its own', async () => (await state(page)).connected, 60_000);
  t.is((await state(page)).session, session, 'the same session');
  await seeRendered(page, /(^|\n)200\s*\n/, 'the screen restored');
  await waitFor('the mark in the scrollback', async () => (await lines(page)).some((l) => l.startsWith('SCROLL-MARK-23')), 30_000);
  const all = await lines(page);
  t.true(all.findIndex((l) => l.startsWith('SCROLL-MARK-23')) < all.findIndex((l) => l.trim() === '1'), 'in order, above the output that followed it');
  t.deepEqual(t.context.errors, [], 'no console errors or CSP violations');
});

e2e('a second viewer watches read-only (and says so) until it takes the keyboard', async (t) => {
  const { page, context } = t.context;
  const second = await context.newPage();
  const errors = watchPageErrors(second);
  t.teardown(() => second.close());
  await second.goto(url(t, '/agents/alice'));
  await second.click('[data-testid="terminal-open"]');
  await waitFor('the second viewer connected', async () => (await state(second)).connected, 60_000);
  t.is((await state(second)).role, 'reader');
  t.regex((await second.textContent('[data-testid="terminal-role"]'))!, /read-only: operator is typing/);
  t.true(await second.isVisible('[data-testid="terminal-take"]'));
  await waitFor('the writer sees two viewers', async () => /2 viewers/.test((await page.textContent('[data-testid="terminal-viewers"]'))!), 30_000);
  await typeLine(second, 'echo "SHOULD-NOT-$((1+1))"');
  await typeLine(page, 'clear; echo "FROM-WRITER-$((2+2))"');
  await seeRendered(page, /(^|\n)FROM-WRITER-4\s*\n/, 'the writer\'s command answered');
  await seeRendered(second, /(^|\n)FROM-WRITER-4\s*\n/, 'the reader sees it too');
  t.false((await lines(page)).some((l) => l.includes('SHOULD-NOT')), 'the reader\'s keys never reached the shell');
  await screenshot(second, 'terminal-reader');

  await second.click('[data-testid="terminal-take"]');
  await waitFor('the roles swapped', async () => (await state(second)).role === 'writer' && (await state(page)).role === 'reader', 30_000);
  await typeLine(second, 'echo "NOW-SECOND-$((3+3))"');
  await seeRendered(page, /(^|\n)NOW-SECOND-6\s*\n/, 'the new writer\'s command, seen by the first');
  t.deepEqual(errors, [], 'no console errors or CSP violations on the second page');
  await second.close();
  await waitFor('the keyboard back with the first viewer', async () => (await state(page)).role === 'writer', 30_000);
});

e2e('an agent without a runtime: the terminal says why it cannot open', async (t) => {
  const { page } = t.context;
  await page.goto(url(t, '/agents/drafty'));
  await page.click('[data-testid="terminal-open"]');
  await page.waitForFunction(() => /agent drafty is draft: it has no runtime/.test(document.querySelector('[data-testid="terminal-msg"]')?.textContent ?? ''));
  t.regex((await page.textContent('[data-testid="terminal-open"]'))!, /Open a new terminal/);
  t.deepEqual(t.context.errors, [], 'no console errors or CSP violations');
});
