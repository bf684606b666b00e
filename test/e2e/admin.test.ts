import { pushByPath, repoOf } from '../helpers/git.ts';
import { loginSession } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver.ts';
import { browserSuite } from './suite.ts';

// The operators and webhooks pages in real Chromium: add an operator (its token shown once), see who
// is logged in, revoke; add a webhook from the form, the send-test button delivers one (signature
// checked by the receiver), a failing receiver's retries and failure show in the delivery log.

const T = 60_000;
const SECRET = 'e2e-webhook-secret';
let rx: Receiver;
const { e2e, test, url } = browserSuite('operators and webhooks pages', {
  prefix: 'hh-e2e-admin-', viewport: { width: 1280, height: 900 }, timeoutMs: T,
  serve: { webhooks: { retry: { attempts: 2, minMs: 200, maxMs: 400 } } },
  setup: async ({ context }) => {
    rx = await startReceiver(SECRET);
    const { page, server } = context;
    await page.goto(`${server.url}/login`);
    await page.fill('#token', server.token);
    await page.click('button[type=submit]');
    await page.waitForURL(`${server.url}/`);
  },
});
test.after.always(async () => { await rx?.close(); });

e2e('operators page: add one (token shown once), who is logged in, revoke', async (t) => {
  t.timeout(120_000);
  const { page, server } = t.context;
  await page.goto(url(t, '/operators'));
  await page.fill('#new-operator-name', 'dana');
  await page.click('#add-operator button');
  const token = (await page.textContent('[data-testid=new-token] code'))!.trim();
  t.regex(token, /^[A-Za-z0-9_-]{43}$/);
  t.is((await server.api('GET', '/api/agents', undefined, { authorization: `Bearer ${token}` })).status, 200);
  await page.reload();
  t.is(await page.locator('[data-testid=new-token]').count(), 0, 'shown once');
  t.regex(await page.textContent('tr[data-operator=operator] [data-testid=sessions]') ?? '', /^yes/, 'the operator is logged in here');
  const dana = await loginSession({ url: server.url, token });
  await page.reload();
  t.regex(await page.textContent('tr[data-operator=dana] [data-testid=sessions]') ?? '', /^yes \(1 session/);
  page.once('dialog', (d) => void d.accept());
  await page.click('[data-testid=revoke-dana]');
  await page.waitForSelector('.hh-flash-ok:has-text("revoked")');
  t.is(await page.locator('tr[data-operator=dana]').count(), 0);
  t.is((await fetch(`${server.url}/`, { headers: { cookie: dana.cookie }, redirect: 'manual' })).status, 302, "dana's session ended");
  t.regex(await page.textContent('#policy') ?? '', /no such file, so one operator's approval decides/);
});

e2e('webhooks page: add from the form, send test delivers one, a failing receiver shows its retries and failure', async (t) => {
  t.timeout(180_000);
  const { page, server, errors } = t.context;
  await page.goto(url(t, '/webhooks'));
  await page.fill('#webhook-url', rx.url);
  await page.fill('#webhook-secret', SECRET);
  await page.uncheck('input[name=event][value="agent.stalled"]');
  await page.click('#add-webhook button');
  await page.waitForSelector('.hh-flash-ok:has-text("webhook #1 added")');
  const hooks = (await server.api<any[]>('GET', '/api/webhooks')).body;
  t.deepEqual(hooks[0].events, ['request.created', 'request.decided', 'tool.waiting', 'container.crashed'], 'the ticked boxes, every one');

  await page.click('[data-webhook="1"] [data-testid=send-test]');
  await page.waitForSelector('.hh-flash-ok:has-text("test delivered to webhook #1 (HTTP 200)")');
  t.is(rx.got.length, 1);
  t.is(rx.got[0]!.event, 'test');
  t.true(rx.got[0]!.valid, 'the receiver checked the signature');
  t.is(await page.textContent('[data-webhook="1"] tr[data-delivery] [data-testid=delivery-status]'), 'delivered');

  rx.status = 503;
  t.is((await server.api('POST', '/api/agents', { name: 'hooked' })).status, 201);
  pushByPath(repoOf(server.state, 'hooked'), { 'prompt.md': 'notify me\n' });
  // Delivery attempts are not domain events, so the page shows them when loaded: reload until the failure is there.
  await waitFor('the failed delivery in the log', async () => {
    await page.reload();
    return (await page.locator('[data-webhook="1"] tr[data-status=failed]').count()) > 0;
  }, T);
  const row = page.locator('[data-webhook="1"] tr[data-status=failed]').first();
  t.regex(await row.textContent() ?? '', /request\.created[\s\S]*failed[\s\S]*2[\s\S]*HTTP 503: receiver says no/);
  t.is(rx.got.filter((g) => g.event === 'request.created').length, 2, 'tried twice');
  t.deepEqual(errors.filter((e) => /Content Security Policy|Refused to/.test(e)), [], 'no CSP violations');
});
