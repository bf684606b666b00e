import anyTest, { type TestFn } from 'ava';
import type { TestServer } from '../helpers/server.ts';
import { webFixture, type WebFixture } from '../helpers/web.ts';

// Ids and numbers are canonical decimal integers: every spelling of a number but the canonical one is
// a 400 naming the parameter, never another way to address the same request, and never a 500. Every
// route with an `:id` is taken from the mounted routers (a route added later is covered too); the
// numeric query parameters are listed. Real server on 127.0.0.1:0, real git, real sqlite.

const test = anyTest as TestFn<WebFixture>;

const SAFE = new Set(['GET', 'HEAD']);
/** Spellings that Number() reads as `n`, and other junk; each must be refused. */
const spellings = (n: number): string[] => [
  `0x${n.toString(16)}`, `${n}e0`, `0${n}`, `${n}.0`, `+${n}`, `-${n}`, ` ${n}`, `${n} `, `${n}abc`, 'abc', '-0', '1.5', 'NaN', 'Infinity',
  '99999999999999999999', String(Number.MAX_SAFE_INTEGER + 1), '١', // an Arabic-Indic digit one
];

test.before(async (t) => {
  t.timeout(120_000);
  t.context = await webFixture('hh-params-');
});

test.after.always(async (t) => { await t.context?.server?.close(); });

async function call(s: TestServer, method: string, p: string, body?: unknown) {
  const r = await fetch(`${s.url}${p}`, {
    method, redirect: 'manual',
    headers: { authorization: `Bearer ${s.token}`, accept: 'application/json', ...(SAFE.has(method) ? {} : { 'content-type': 'application/json' }) },
    body: SAFE.has(method) ? undefined : JSON.stringify(body ?? {}),
  });
  const text = await r.text();
  let json: { error?: { code: string; message: string } } | null = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, text, message: json?.error?.message ?? '' };
}

test.serial('every route with an :id: each non-canonical spelling is a 400 naming the id; the request it spells is untouched', async (t) => {
  const { server: s, approvalId: id } = t.context;
  const idRoutes = t.context.routes.filter((r) => r.path.includes(':id'));
  const keys = idRoutes.map((r) => `${r.method} ${r.path}`);
  for (const k of ['GET /api/approvals/:id', 'POST /api/approvals/:id/approve', 'POST /api/approvals/:id/reject', 'GET /approvals/:id', 'POST /approvals/:id/approve', 'POST /inbox/:id/answer', 'POST /api/inbox/:id/answer']) t.true(keys.includes(k), k);
  for (const r of idRoutes) {
    // The inbox routes address messages, the turn routes turns, the webhook routes webhooks, the harness's route its tool requests; the rest requests.
    const what = r.path.includes('/inbox/') ? 'message id' : r.path.includes('/turns/') ? 'turn id' : r.path.includes('webhooks') ? 'webhook id' : r.path.includes('/tool-requests/') ? 'tool request id' : 'request id';
    for (const v of [...spellings(id), '0']) {
      const p = r.path.replace(':id', encodeURIComponent(v)) + (r.path.endsWith('/file') ? '?path=prompt.md' : '');
      const res = await call(s, r.method, p, { reason: 'no', body: 'x' });
      t.is(res.status, 400, `${r.method} ${p}: ${res.text.slice(0, 200)}`);
      t.true(res.message.startsWith(`${what} must be a positive decimal integer`), `${r.method} ${p}: ${res.message}`);
      t.true(res.message.includes(JSON.stringify(v)), `${r.method} ${p}: the message shows what was sent`);
    }
    // An empty id is another route (GET /api/approvals/ is the list) or none: never a 500, never an action.
    const empty = await call(s, r.method, r.path.replace(':id', ''));
    t.true(empty.status < 500, `${r.method} ${r.path} with an empty id: ${empty.status}`);
    if (!SAFE.has(r.method)) t.is(empty.status, 404, `${r.method} ${r.path} with an empty id`);
  }
  const a = await s.api<{ status: string; votes: unknown[] }>('GET', `/api/approvals/${id}`);
  t.is(a.status, 200);
  t.is(a.body.status, 'pending', 'no spelling of the id approved or rejected the request');
  t.deepEqual(a.body.votes, []);
  // A browser gets the same refusal as an HTML page.
  const page = await fetch(`${s.url}/approvals/0x${id.toString(16)}`, { headers: { cookie: t.context.cookie } });
  t.is(page.status, 400);
  t.regex(await page.text(), /request id must be a positive decimal integer/);
});

/** Numeric query parameters: route, parameter, and the range of a valid value. */
const QUERY: [string, string][] = [
  ['/api/log', 'limit'], ['/api/log', 'since'], ['/api/log', 'after'],
  ['/api/inbox', 'limit'], ['/api/inbox', 'since'],
  ['/api/agents/alpha/messages', 'limit'], ['/api/agents/alpha/messages', 'since'],
];

test.serial('every numeric query parameter: non-canonical, empty, repeated or out of range is a 400 naming it', async (t) => {
  const s = t.context.server;
  for (const [route, name] of QUERY) {
    for (const v of [...spellings(1), '', '-3']) {
      const p = `${route}?${name}=${encodeURIComponent(v)}`;
      const res = await call(s, 'GET', p);
      t.is(res.status, 400, `${p}: ${res.text.slice(0, 200)}`);
      t.true(res.message.startsWith(`${name} must be a decimal integer from `), `${p}: ${res.message}`);
    }
    const twice = await call(s, 'GET', `${route}?${name}=1&${name}=2`);
    t.is(twice.status, 400, `${route} ${name} twice`);
    t.is(twice.message, `${name} given more than once`);
    t.is((await call(s, 'GET', `${route}?${name}=1`)).status, 200, `${route}?${name}=1`);
  }
  for (const [route, max] of [['/api/log', 5000], ['/api/inbox', 1000]] as const) {
    const over = await call(s, 'GET', `${route}?limit=${max + 1}`);
    t.is(over.status, 400);
    t.regex(over.message, new RegExp(`^limit must be a decimal integer from 1 to ${max}`));
    t.is((await call(s, 'GET', `${route}?limit=0`)).status, 400);
  }
});

test.serial('GET /api/log?limit: abc, 1.5 and -3 are 400s naming limit (they were sqlite 500s); a canonical limit limits', async (t) => {
  const s = t.context.server;
  for (const v of ['abc', '1.5', '-3']) {
    const res = await call(s, 'GET', `/api/log?limit=${v}`);
    t.is(res.status, 400, v);
    t.regex(res.message, new RegExp(`^limit must be a decimal integer from 1 to 5000, .*got "${v.replace('.', '\\.')}"$`), v);
  }
  const two = await s.api<{ id: number }[]>('GET', '/api/log?limit=2');
  t.is(two.status, 200);
  t.is(two.body.length, 2);
  const older = Math.min(...two.body.map((e) => e.id));
  const after = await s.api<{ id: number }[]>('GET', `/api/log?after=${older}&limit=5000`);
  t.true(after.body.length >= 1);
  t.true(after.body.every((e) => e.id > older));
});

test.serial('the inbox page form: a non-canonical upTo is refused with a flash naming it, and nothing is marked read', async (t) => {
  const { server: s, cookie, csrf } = t.context;
  for (const v of ['0x1', '1e0', '1.5', '-1', 'abc']) {
    const r = await fetch(`${s.url}/inbox/ack`, { method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: csrf, upTo: v }).toString() });
    t.is(r.status, 303, v);
    t.is(r.headers.get('location'), '/inbox');
    const page = await (await fetch(`${s.url}/inbox`, { headers: { cookie } })).text();
    t.regex(page, /hh-flash-error[^>]*>upTo must be a decimal integer from 0 to/, v);
    t.notRegex(page, /marked read/, v);
  }
});

test.serial('GET /api/stats keeps its durations and dates, and no spelling of since, until or step is a 500', async (t) => {
  const s = t.context.server;
  // since/until take ms, ISO dates and "-1h"; step takes ms or "5m" (leading zeros are plain ms there).
  for (const [q, status] of [['since=-1h', 200], ['since=2026-01-01T00:00:00Z&until=2026-01-02', 200], ['step=5m', 200], ['step=060000', 200]] as const) {
    t.is((await call(s, 'GET', `/api/stats?agent=alpha&key=turns&${q}`)).status, status, q);
  }
  for (const name of ['since', 'until', 'step']) {
    for (const v of [...spellings(1), '', '-3', '2026-13-45', '-99999999999d', '1e400']) {
      const p = `/api/stats?agent=alpha&key=turns&${name}=${encodeURIComponent(v)}`;
      const res = await call(s, 'GET', p);
      t.true(res.status === 200 || res.status === 400, `${p}: ${res.status} ${res.text.slice(0, 200)}`);
      if (res.status === 400) t.true(res.message.startsWith(`${name}`) || /since|until|step|points/.test(res.message), `${p}: ${res.message}`);
    }
    for (const v of ['0x1', '1e0', '1.0', 'abc', '99999999999999999999']) {
      const res = await call(s, 'GET', `/api/stats?agent=alpha&key=turns&${name}=${encodeURIComponent(v)}`);
      t.is(res.status, 400, `${name}=${v}`);
      t.true(res.message.startsWith(`${name}: `), `${name}=${v}: ${res.message}`);
    }
  }
});
