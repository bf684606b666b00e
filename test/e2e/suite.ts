import anyTest, { type TestFn } from 'ava';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { ServeOptions } from '../../controller/serve.ts';
import { browserUnavailable, launchBrowser, watchPageErrors } from '../helpers/browser.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

export interface BrowserCtx { server: TestServer; browser: Browser; context: BrowserContext; page: Page; errors: string[] }

/**
 * One real server and one Chromium page shared by a file's serial tests. Where Chromium is absent the
 * tests are skipped and the reason printed. `setup` runs once both are up.
 */
export function browserSuite(what: string, o: { prefix: string; serve?: Partial<ServeOptions>; viewport: { width: number; height: number }; timeoutMs: number; setup?: (t: { context: BrowserCtx; is: (a: unknown, b: unknown) => void }) => Promise<void> }) {
  const test = anyTest as TestFn<BrowserCtx>;
  const unavailable = browserUnavailable();
  const e2e = unavailable ? test.serial.skip : test.serial;
  if (unavailable) console.log(`skipped: ${what} need Chromium: ${unavailable}`);

  test.before(async (t) => {
    if (unavailable) return;
    t.timeout(180_000);
    const [server, browser] = await Promise.all([startServer({ prefix: o.prefix, configCheck: true, ...o.serve }), launchBrowser()]);
    const context = await browser.newContext({ viewport: o.viewport });
    context.setDefaultTimeout(o.timeoutMs);
    const page = await context.newPage();
    t.context = { server, browser, context, page, errors: watchPageErrors(page) };
    await o.setup?.(t);
  });

  test.after.always(async (t) => {
    if (!t.context?.server) return;
    await t.context.browser.close().catch(() => undefined);
    await t.context.server.close();
  });

  const url = (t: { context: BrowserCtx }, p: string) => `${t.context.server.url}${p}`;
  return { test, e2e, url };
}

/** Logs the page in through the login form and lands on `next`. */
export async function logIn(c: Pick<BrowserCtx, 'page' | 'server'>, next: string): Promise<void> {
  await c.page.goto(`${c.server.url}/login?next=${encodeURIComponent(next)}`);
  await c.page.fill('#token', c.server.token);
  await c.page.click('button[type=submit]');
  await c.page.waitForURL(`${c.server.url}${next}`);
}
