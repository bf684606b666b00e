import type { Identity } from '../../controller/auth/identity.ts';
import { screenshot } from '../helpers/browser.ts';
import { browserSuite } from './suite.ts';
import { pushByPath, repoOf } from '../helpers/git.ts';
import { loginSession } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';

// The operator's inbox and the dashboard's drafts in real Chromium against a real server: a question
// from the manager reaches an open page over SSE, is answered from the UI, and lands in the manager's
// mailbox; the plain form routes (no script) do the same.

const T = 60_000;
const MANAGER: Identity = { kind: 'agent', name: 'manager' };

const { e2e, url } = browserSuite('inbox e2e tests', {
  prefix: 'hh-inbox-e2e-', serve: { agentCommand: 'idle' }, viewport: { width: 1300, height: 900 }, timeoutMs: T,
  setup: async (t) => { t.is((await t.context.server.api('POST', '/api/agents', { name: 'manager' })).status, 201); },
});

e2e('log in; drafts and pending agents show on the dashboard with revision, creator and spawn request', async (t) => {
  t.timeout(120_000);
  const { page, server } = t.context;
  await page.goto(url(t, '/'));
  await page.fill('#token', server.token);
  await page.click('button[type=submit]');
  await page.waitForURL(url(t, '/'));
  t.true(await page.locator('#drafts').isHidden(), 'no drafts yet: the section is hidden');

  const spawner = server.spawner;
  await spawner.requestSpawnDraft('scout', MANAGER);
  const tip = pushByPath(repoOf(server.state, 'scout'), { 'prompt.md': 'You scout the codebase.\n' }, { message: 'Scout prompt' });
  const pending = await spawner.requestSpawn('newbie', MANAGER);
  t.truthy(pending.approval);

  await page.goto(url(t, '/'));
  const draft = page.locator('#drafts li[data-draft=scout]');
  await draft.waitFor();
  const text = await draft.textContent() ?? '';
  t.regex(text, new RegExp(`scout ${tip.slice(0, 8)} Scout prompt created by manager`));
  t.regex(await page.textContent('#drafts') ?? '', /turns one of its commits into a spawn request/);
  const link = page.locator('#drafts li[data-pending=newbie] [data-testid=spawn-request]');
  t.is(await link.getAttribute('href'), `/approvals/${pending.approval!.id}`);
  t.is((await link.textContent())?.trim(), `spawn request #${pending.approval!.id}`);
  // The existing sections are still there.
  for (const id of ['#agents', '#create-agent', '#queue', '#log']) t.is(await page.locator(id).count(), 1, id);
  t.is(await page.locator('tr[data-agent=manager]').count(), 1);
});

e2e('a question from the manager raises the badge and a banner on the open dashboard, without reload', async (t) => {
  t.timeout(120_000);
  const { page, server } = t.context;
  await page.goto(url(t, '/'));
  await page.waitForSelector('#live-status.hh-live-on');
  t.true(await page.locator('#inbox-badge').isHidden(), 'nothing unread yet');
  await page.evaluate(() => { (window as unknown as { stayed: boolean }).stayed = true; });

  const q = server.bus.send({ from: 'manager', to: 'operator', kind: 'question', body: 'May I spawn <b>scout</b>?\nIt needs Bash(git *).' });
  await page.locator('#inbox-badge').waitFor({ state: 'visible', timeout: T });
  t.is((await page.textContent('#inbox-badge'))?.trim(), '1');
  const toast = page.locator('#inbox-toast');
  await toast.waitFor({ state: 'visible' });
  t.regex(await toast.textContent() ?? '', /New question from manager\. Open inbox/);
  t.is(await toast.locator('[data-testid=toast-link]').getAttribute('href'), `/inbox#msg-${q.id}`);
  t.true(await page.evaluate(() => (window as unknown as { stayed?: boolean }).stayed === true), 'the page was not reloaded');

  // A controller event to the operator counts but raises no banner; the badge follows the bus's depth.
  server.bus.send({ from: 'system', to: 'operator', kind: 'event', body: 'request #1 was approved' });
  await waitFor('badge at 2', async () => (await page.textContent('#inbox-badge'))?.trim() === '2', T);
  t.regex(await toast.textContent() ?? '', /question from manager/);

  // Any page carries the badge, with the count rendered or fetched.
  await page.goto(url(t, '/agents/manager'));
  await waitFor('badge on the agent page', async () => (await page.textContent('#inbox-badge'))?.trim() === '2', T);
  t.pass();
});

e2e('the inbox lists the messages escaped; answering from the UI reaches the manager; mark all read', async (t) => {
  t.timeout(120_000);
  const { page, server, errors } = t.context;
  await page.goto(url(t, '/'));
  await page.click('#inbox-link');
  await page.waitForURL(url(t, '/inbox'));
  t.regex(await page.textContent('[data-testid=inbox-unread]') ?? '', /2 unread/);
  const [question] = server.bus.list({ recipient: 'operator', from: 'manager' });
  const item = page.locator(`#msg-${question!.id}`);
  t.is(await item.getAttribute('data-unread'), '1');
  t.is(await item.locator('.hh-msg-body').textContent(), 'May I spawn <b>scout</b>?\nIt needs Bash(git *).');
  t.is(await item.locator('.hh-msg-body b').count(), 0, 'the body is text, not markup');
  t.regex(await item.locator('.hh-msg-head').textContent() ?? '', /manager\s+question\s+#\d+/);
  const system = page.locator('.hh-msg', { hasText: 'request #1 was approved' });
  t.is(await system.locator('form').count(), 0, 'no answer form for system messages');
  await screenshot(page, 'inbox');

  await item.locator('textarea').fill('Yes, go ahead — but no Bash(rm *).');
  await item.locator('button[type=submit]').click();
  await page.waitForSelector('[data-testid=answer-sent]');
  t.regex(await page.textContent('[data-testid=answer-sent]') ?? '', /Answer sent to manager as message #\d+\./);
  const answer = await waitFor('answer in the manager mailbox', () => server.bus.list({ recipient: 'manager' }).find((m) => m.from === 'operator' && m.kind === 'answer'));
  t.is(answer.body, `(answer to your message #${question!.id}) Yes, go ahead — but no Bash(rm *).`);
  const viaApi = await server.api<{ id: number }[]>('GET', '/api/agents/manager/messages');
  t.true(viaApi.body.some((m) => m.id === answer.id));
  // Answering read the inbox up to the question; the later system event is still unread.
  await waitFor('badge at 1', async () => (await page.textContent('#inbox-badge'))?.trim() === '1', T);
  await waitFor('question marked read', async () => (await page.locator(`#msg-${question!.id}`).getAttribute('data-unread')) === '0', T);

  await page.click('[data-testid=mark-all-read]');
  await page.waitForSelector('[data-testid=acked]');
  await page.locator('#inbox-badge').waitFor({ state: 'hidden' });
  t.is(server.bus.depth('operator'), 0);
  t.is(await page.locator('.hh-msg[data-unread="1"]').count(), 0);
  t.deepEqual(errors.filter((e) => /Content Security Policy|Refused to/.test(e)), [], 'no CSP violations');
});

e2e('without the script: the plain forms answer and mark read, then redirect back to /inbox', async (t) => {
  const { server } = t.context;
  const { cookie, csrf } = await loginSession(server);
  const q = server.bus.send({ from: 'manager', to: 'operator', kind: 'question', body: 'Plain form?' });
  const form = (fields: Record<string, string>) => ({ method: 'POST', redirect: 'manual' as const, headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: csrf, ...fields }).toString() });
  const answered = await fetch(`${server.url}/inbox/${q.id}/answer`, form({ body: 'Plain answer.' }));
  t.is(answered.status, 303);
  t.is(answered.headers.get('location'), `/inbox#msg-${q.id}`);
  t.truthy(server.bus.list({ recipient: 'manager' }).find((m) => m.body === `(answer to your message #${q.id}) Plain answer.`));
  const page = await (await fetch(`${server.url}/inbox`, { headers: { cookie } })).text();
  t.regex(page, /answer sent to manager/);

  const empty = await fetch(`${server.url}/inbox/${q.id}/answer`, form({ body: '  ' }));
  t.is(empty.status, 303);
  t.regex(await (await fetch(`${server.url}/inbox`, { headers: { cookie } })).text(), /Answer refused: the answer is empty/);
  const sys = server.bus.send({ from: 'system', to: 'operator', kind: 'event', body: 'x' });
  await fetch(`${server.url}/inbox/${sys.id}/answer`, form({ body: 'hello?' }));
  t.regex(await (await fetch(`${server.url}/inbox`, { headers: { cookie } })).text(), /Answer refused: message #\d+ is from system, which reads no answers/);

  const later = server.bus.send({ from: 'manager', to: 'operator', body: 'arrived after the page was rendered' });
  const acked = await fetch(`${server.url}/inbox/ack`, form({ upTo: String(sys.id) }));
  t.is(acked.status, 303);
  t.is(acked.headers.get('location'), '/inbox');
  t.deepEqual(server.bus.list({ recipient: 'operator', unacked: true }).map((m) => m.id), [later.id], 'only up to the newest message shown');
  const noCsrf = await fetch(`${server.url}/inbox/ack`, { method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: 'upTo=1' });
  t.is(noCsrf.status, 403);
});
