import path from 'node:path';
import { screenshot } from '../helpers/browser.ts';
import { browserSuite } from './suite.ts';
import { gitc, largeChange, pushByPath, refOf, repoOf } from '../helpers/git.ts';
import { waitFor } from '../helpers/wait.ts';

// The operator UI in real Chromium against a real server (in-process, 127.0.0.1:0, temp state dir),
// with pushes made by the git CLI into the agents' bare repos.

const T = 60_000;

const { e2e, url } = browserSuite('web e2e tests', { prefix: 'hh-e2e-', viewport: { width: 1400, height: 900 }, timeoutMs: T });

e2e('an anonymous visitor is sent to the login form; the operator token logs in', async (t) => {
  t.timeout(120_000);
  const { page } = t.context;
  await page.goto(url(t, '/'));
  t.regex(page.url(), /\/login\?next=%2F$/);
  await page.fill('#token', 'not-the-token');
  await page.click('button[type=submit]');
  t.regex(await page.textContent('.hh-flash-error') ?? '', /not an operator token/);
  await page.fill('#token', t.context.server.token);
  await page.click('button[type=submit]');
  await page.waitForURL(url(t, '/'));
  t.is(await page.textContent('h2'), 'Agents 0');
  const cookies = await t.context.context.cookies();
  const session = cookies.find((c) => c.name === 'hh_session')!;
  t.truthy(session);
  t.true(session.httpOnly);
  t.is(session.sameSite, 'Strict');
});

e2e('create an agent from the form; its page shows state, model chip and notes', async (t) => {
  t.timeout(120_000);
  const { page } = t.context;
  await page.goto(url(t, '/'));
  await page.fill('#new-agent-name', 'alpha');
  await page.click('#create-agent button');
  await page.waitForURL(url(t, '/agents/alpha'));
  t.regex(await page.textContent('.hh-flash-ok') ?? '', /agent alpha created/);
  t.regex(await page.textContent('[data-testid=model-chip]') ?? '', /^model · \S+/);
  t.is(await page.getAttribute('[data-testid=applied-revision]', 'data-sha'), refOf(repoOf(t.context.server.state, 'alpha'), 'applied'));
  t.regex(await page.textContent('#state') ?? '', /not isolated/);
  await page.goto(url(t, '/'));
  t.is(await page.locator('tr[data-agent=alpha]').count(), 1);
});

e2e('a push appears live on the dashboard; the approval page shows the diff; approve moves applied', async (t) => {
  t.timeout(180_000);
  const { page, server } = t.context;
  await page.goto(url(t, '/'));
  await page.waitForSelector('#live-status.hh-live-on');
  t.is(await page.locator('#queue tr[data-approval]').count(), 0);
  const head = pushByPath(repoOf(server.state, 'alpha'), { 'prompt.md': 'You are alpha.\nBe brief and careful.\n', 'extra/config.txt': 'answer=42\n' }, { message: 'Tune alpha prompt' });
  // No reload: the SSE event makes the page re-render its queue.
  const row = page.locator('#queue tr[data-approval]');
  await row.first().waitFor({ timeout: T });
  t.regex(await row.first().textContent() ?? '', /change[\s\S]*alpha[\s\S]*pending[\s\S]*prompt\.md/);
  t.regex(await page.locator('tr[data-agent=alpha] [data-rev=proposed]').textContent() ?? '', /Tune alpha prompt/);
  await screenshot(page, 'dashboard');

  await row.first().locator('a').first().click();
  await page.waitForURL(/\/approvals\/\d+$/);
  const names = await page.locator('.d2h-file-name').allTextContents();
  t.true(names.some((n) => n.trim() === 'prompt.md'), names.join(', '));
  t.true(names.some((n) => n.trim() === 'extra/config.txt'), names.join(', '));
  const inserted = (await page.locator('.d2h-ins .d2h-code-line-ctn').allTextContents()).join('\n');
  t.regex(inserted, /Be brief and careful\./);
  t.regex(inserted, /answer=42/);
  t.regex(await page.textContent('#commits') ?? '', /Tune alpha prompt[\s\S]*author tester[\s\S]*proposer local/);
  t.is(await page.locator('.d2h-files-diff').count() > 0, true, 'side-by-side by default');
  // The config check's verdict reaches the open page (live refresh) before the operator approves.
  await page.waitForSelector('[data-testid=config-check]:has-text("Config evaluates")', { timeout: T });
  await screenshot(page, 'approval-page');
  await page.click('[data-testid=view-line]');
  await page.waitForURL(/view=line/);
  t.true(await page.locator('.d2h-file-diff').count() > 0);
  t.is(await page.locator('.d2h-files-diff').count(), 0);

  await page.click('[data-testid=approve]');
  await page.waitForSelector('.hh-flash-ok');
  t.regex(await page.textContent('.hh-flash-ok') ?? '', /approved: applied moved to/);
  t.is(await page.textContent('[data-testid=approval-status]'), 'approved');
  t.is(refOf(repoOf(server.state, 'alpha'), 'applied'), head);
  await page.goto(url(t, '/agents/alpha'));
  t.is(await page.getAttribute('[data-testid=applied-revision]', 'data-sha'), head);
  // The runtime picks the new revision up; the state row follows over SSE.
  await waitFor('runtime on the new revision', async () => (await page.textContent('[data-testid=runtime-revision]'))?.trim() === head.slice(0, 8), T);
  t.pass();
});

e2e('/model opus changes the chip and commits model on live as the operator', async (t) => {
  t.timeout(120_000);
  const { page, server } = t.context;
  await page.goto(url(t, '/agents/alpha'));
  const before = refOf(repoOf(server.state, 'alpha'), 'live');
  await page.fill('[data-testid=command-input]', '/model opus');
  await page.press('[data-testid=command-input]', 'Enter');
  await page.waitForSelector('.hh-flash-ok');
  t.is((await page.textContent('h1 [data-testid=model-chip]'))?.trim(), 'model · opus');
  const repo = path.join(server.state, 'repos', 'alpha.git');
  const after = refOf(repoOf(server.state, 'alpha'), 'live');
  t.not(after, before);
  t.is(gitc(repo, 'show', 'live:model'), 'opus');
  t.is(gitc(repo, 'log', '-1', '--format=%an', 'live'), 'operator');

  await page.fill('[data-testid=command-input]', '/frobnicate now');
  await page.press('[data-testid=command-input]', 'Enter');
  await page.waitForSelector('.hh-flash-error');
  t.regex(await page.textContent('.hh-flash-error') ?? '', /unknown command "\/frobnicate"; known commands: \/model <name>, \/approve, \/suspend, \/resume, \/revert, \/rollback <rev>/);
  t.is(await page.inputValue('[data-testid=command-input]'), '/frobnicate now', 'the refused command is kept for fixing');
  await page.fill('[data-testid=command-input]', '/model two words');
  await page.press('[data-testid=command-input]', 'Enter');
  // The page still shows the previous refusal until the form's answer replaces it: wait for this one.
  await page.waitForSelector('.hh-flash-error:has-text("expects one argument")');
  t.regex(await page.textContent('.hh-flash-error') ?? '', /\/model <name>: expects one argument/);
});

e2e('a stale approval is refused with the explanation and a link to the new request', async (t) => {
  t.timeout(180_000);
  const { page, server } = t.context;
  t.is((await server.api('POST', '/api/agents', { name: 'beta' })).status, 201);
  const first = pushByPath(repoOf(server.state, 'beta'), { 'prompt.md': 'beta v1\n' }, { message: 'beta v1' });
  const req1 = await waitFor('request 1', async () => (await server.api<{ id: number; head: string }[]>('GET', '/api/approvals?agent=beta&status=pending')).body.find((a) => a.head === first), T);
  await page.goto(url(t, `/approvals/${req1.id}`));
  await page.waitForSelector('#live-status.hh-live-on');
  const second = pushByPath(repoOf(server.state, 'beta'), { 'prompt.md': 'beta v2\n' }, { message: 'beta v2' });
  const req2 = await waitFor('request 2', async () => (await server.api<{ id: number; head: string }[]>('GET', '/api/approvals?agent=beta&status=pending')).body.find((a) => a.head === second), T);
  // The open page learns of it over SSE and says what moved.
  // The banner can show before the reconciler has raised request 2; its link follows on the next refresh.
  await page.waitForSelector(`[data-testid=stale] a[href="/approvals/${req2.id}"]`, { timeout: T });
  t.regex(await page.textContent('[data-testid=stale]') ?? '', new RegExp(`open request #${req2.id}`));
  await page.click('[data-testid=approve]');
  await page.waitForSelector('.hh-flash-error');
  t.regex(await page.textContent('.hh-flash-error') ?? '', new RegExp(`Approval refused: request #${req1.id} is superseded by request #${req2.id}`));
  t.not(refOf(repoOf(server.state, 'beta'), 'applied'), first);
  await page.click(`[data-testid=stale] a[href="/approvals/${req2.id}"]`);
  await page.waitForURL(url(t, `/approvals/${req2.id}`));
  t.is(await page.textContent('[data-testid=approval-status]'), 'pending');
});

e2e('a 5,000-line 50-file request loads with files collapsed; one expands on demand; reject then revert', async (t) => {
  t.timeout(240_000);
  const { page, server, errors } = t.context;
  t.is((await server.api('POST', '/api/agents', { name: 'gamma' })).status, 201);
  const head = pushByPath(repoOf(server.state, 'gamma'), largeChange('bulk'), { message: 'Add 50 generated files' });
  const req = await waitFor('large request', async () => (await server.api<{ id: number; head: string }[]>('GET', '/api/approvals?agent=gamma&status=pending')).body.find((a) => a.head === head), T);
  await page.goto(url(t, `/approvals/${req.id}`));
  t.regex(await page.textContent('.hh-filelist-title') ?? '', /50 files changed, \+5000 −0/);
  const collapsed = await page.locator('section.hh-file.hh-collapsed').count();
  t.true(collapsed >= 40, `${collapsed} collapsed`);
  t.true(await page.locator('.hh-file:not(.hh-collapsed) .d2h-file-wrapper').count() >= 1);
  const last = page.locator('section.hh-file[data-path="bulk/file-49.txt"]');
  t.is(await last.locator('.d2h-code-line-ctn').count(), 0);
  await last.locator('button.hh-expand').click();
  const expanded = page.locator('section.hh-file.hh-expanded[data-path="bulk/file-49.txt"]');
  await expanded.waitFor();
  t.regex((await expanded.locator('.d2h-ins .d2h-code-line-ctn').allTextContents()).join('\n'), /bulk file 49 line 99/);

  await page.fill('#reject-reason', 'generated noise');
  await page.click('[data-testid=reject]');
  await page.waitForSelector('.hh-flash-ok');
  t.is(await page.textContent('[data-testid=approval-status]'), 'rejected');
  t.regex(await page.textContent('#approval-status') ?? '', /generated noise/);
  await page.click('[data-testid=revert]');
  // The reject's notice is still on the page until the revert's answer replaces it.
  await page.waitForSelector('.hh-flash-ok:has-text("reverted")');
  t.regex(await page.textContent('.hh-flash-ok') ?? '', /proposed reverted to applied's tree/);
  const repo = path.join(server.state, 'repos', 'gamma.git');
  t.is(gitc(repo, 'rev-parse', 'proposed^{tree}'), gitc(repo, 'rev-parse', 'applied^{tree}'));
  t.is(gitc(repo, 'log', '-1', '--format=%an', 'proposed'), 'operator');
  const open = (await server.api<unknown[]>('GET', '/api/approvals?agent=gamma&status=pending')).body;
  t.deepEqual(open, []);
  t.deepEqual(errors.filter((e) => /Content Security Policy|Refused to/.test(e)), [], 'no CSP violations');
  // Every page names its icon, so the browser never asks for a /favicon.ico that is not there.
  t.deepEqual(errors.filter((e) => /status of 404/.test(e)), [], 'no missing resources');
});
