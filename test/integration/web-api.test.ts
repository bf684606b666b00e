import anyTest, { type TestFn } from 'ava';
import http from 'node:http';
import { pushByPath, repoOf } from '../helpers/git.ts';
import { loginSession, type TestServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';
import { webFixture, type Route, type WebFixture } from '../helpers/web.ts';

// Every authenticated route of the app, enumerated from the mounted routers (so a route added later is
// covered without editing this file): 401 without auth (pages: redirect to the login form), 403 for a
// cookie write without the CSRF token, 404 for an unknown agent or request, 400 with a message for
// bad input, 413 for a body over 1 MB. Real server on 127.0.0.1:0, real git, real sqlite.

const test = anyTest as TestFn<WebFixture>;

const PUBLIC = new Set(['GET /login', 'POST /login', 'GET /api/health']);
/** Authenticated by their own secret, not the operator's session. */
const OWN_SECRET = new Set(['POST /api/internal/pushed']);
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);
const isPage = (r: Route) => !r.path.startsWith('/api/') && r.path !== '/metrics';

const fill = (p: string, o: { name?: string; id?: string } = {}) => p.replace(':name', o.name ?? 'alpha').replace(':id', o.id ?? '1');

test.before(async (t) => {
  t.timeout(120_000);
  t.context = await webFixture('hh-webapi-');
});

test.after.always(async (t) => { await t.context?.server?.close(); });

async function call(s: TestServer, method: string, p: string, o: { headers?: Record<string, string>; body?: string | Buffer } = {}) {
  const body = typeof o.body === 'string' || o.body === undefined ? o.body : new Uint8Array(o.body);
  const r = await fetch(`${s.url}${p}`, { method, headers: o.headers, body, redirect: 'manual' });
  const text = await r.text();
  let json: { error?: { code: string; message: string } } | null = null;
  try { json = JSON.parse(text); } catch { /* html or text */ }
  return { status: r.status, text, json, location: r.headers.get('location') };
}

test.serial('the route table is the one this test expects to cover', (t) => {
  const keys = t.context.routes.map((r) => `${r.method} ${r.path}`);
  for (const k of ['GET /', 'GET /agents/:name', 'GET /approvals/:id', 'POST /approvals/:id/approve', 'GET /api/events', 'POST /api/agents/:name/command',
    'GET /api/agents', 'POST /api/agents', 'POST /api/agents/:name/model', 'POST /api/approvals/:id/reject']) t.true(keys.includes(k), k);
  t.true(keys.length >= 30, `${keys.length} routes`);
});

test.serial('every authenticated route: 401 without auth (pages redirect to the login form)', async (t) => {
  const s = t.context.server;
  for (const r of t.context.routes) {
    const key = `${r.method} ${r.path}`;
    if (PUBLIC.has(key)) continue;
    const res = await call(s, r.method, fill(r.path, { id: String(t.context.approvalId) }), { headers: { 'content-type': 'application/json', accept: 'application/json' }, body: SAFE.has(r.method) ? undefined : '{}' });
    if (isPage(r) && SAFE.has(r.method)) {
      t.is(res.status, 302, key);
      t.regex(res.location ?? '', /^\/login\?next=/, key);
    } else {
      t.is(res.status, 401, key);
      t.truthy(res.json?.error?.message, `${key}: ${res.text.slice(0, 200)}`);
    }
  }
  // A wrong token is no better than none.
  const bad = await call(s, 'GET', '/api/agents', { headers: { authorization: 'Bearer nope' } });
  t.is(bad.status, 401);
});

test.serial('every state-changing route: 403 with the session cookie but no (or a wrong) CSRF token', async (t) => {
  const { server: s, cookie } = t.context;
  let checked = 0;
  for (const r of t.context.routes) {
    const key = `${r.method} ${r.path}`;
    if (SAFE.has(r.method) || PUBLIC.has(key) || OWN_SECRET.has(key)) continue;
    const p = fill(r.path, { id: String(t.context.approvalId) });
    const variants: Record<string, string>[] = [{ cookie, 'content-type': 'application/json', accept: 'application/json' }, { cookie, 'content-type': 'application/json', accept: 'application/json', 'x-csrf-token': 'forged' }];
    for (const headers of variants) {
      const res = await call(s, r.method, p, { headers, body: '{}' });
      t.is(res.status, 403, key);
      t.regex(res.json?.error?.message ?? '', /CSRF/, key);
    }
    checked++;
  }
  t.true(checked >= 15, `${checked} routes`);
  // The approval is untouched and the agent not suspended by any of that.
  t.is((await s.api<{ status: string }>('GET', `/api/approvals/${t.context.approvalId}`)).body.status, 'pending');
  t.false((await s.api<{ suspended: boolean }>('GET', '/api/agents/alpha')).body.suspended);
});

test.serial('with the right CSRF token (header or form field) a cookie write goes through; bearer needs none', async (t) => {
  const { server: s, cookie, csrf } = t.context;
  const viaHeader = await call(s, 'POST', '/api/agents/alpha/suspend', { headers: { cookie, 'x-csrf-token': csrf } });
  t.is(viaHeader.status, 200);
  const viaForm = await call(s, 'POST', '/agents/alpha/command', { headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: csrf, command: '/resume' }).toString() });
  t.is(viaForm.status, 303);
  t.false((await s.api<{ suspended: boolean }>('GET', '/api/agents/alpha')).body.suspended);
  const bearer = await s.api('POST', '/api/agents/alpha/command', { command: '/suspend' });
  t.is(bearer.status, 200);
  t.is((await s.api('POST', '/api/agents/alpha/resume')).status, 200);
});

test.serial('404 for an unknown agent or request on every route that names one', async (t) => {
  const s = t.context.server;
  const bodies: Record<string, unknown> = {
    'POST /api/agents/:name/model': { model: 'opus' }, 'POST /api/agents/:name/rollback': { revision: 'abcdef1' },
    'POST /api/agents/:name/messages': { body: 'hi' }, 'POST /api/agents/:name/command': { command: '/suspend' },
    'POST /agents/:name/command': { command: '/suspend' }, 'POST /agents/:name/message': { body: 'hi' },
    'POST /api/approvals/:id/reject': { reason: 'no' }, 'POST /approvals/:id/reject': { reason: 'no' }, 'POST /api/inbox/:id/answer': { body: 'x' },
  };
  let checked = 0;
  for (const r of t.context.routes) {
    const key = `${r.method} ${r.path}`;
    // The harness's turn report belongs to the agent's own token; it is covered by the stats tests.
    if (!/:name|:id/.test(r.path) || key === 'POST /api/agents/:name/turns') continue;
    const p = fill(r.path, { name: 'nosuchagent', id: '999999' }) + (r.path.endsWith('/file') ? '?path=x' : '');
    const res = await call(s, r.method, p, {
      headers: { authorization: `Bearer ${s.token}`, accept: 'application/json', 'content-type': 'application/json' },
      body: SAFE.has(r.method) ? undefined : JSON.stringify(bodies[key] ?? {}),
    });
    t.is(res.status, 404, `${key}: ${res.text.slice(0, 200)}`);
    t.truthy(res.json?.error?.message, key);
    checked++;
  }
  t.true(checked >= 15, `${checked} routes`);
  const page = await call(s, 'GET', '/agents/nosuchagent', { headers: { cookie: t.context.cookie } });
  t.is(page.status, 404);
  t.regex(page.text, /no agent named &quot;nosuchagent&quot;/);
});

/** Routes that read a JSON body (with a valid agent and request). */
const BODY_ROUTES = (id: number): [string, string][] => [
  ['POST', '/api/agents'], ['POST', '/api/agents/alpha/model'], ['POST', '/api/agents/alpha/rollback'],
  ['POST', '/api/agents/alpha/messages'], ['POST', '/api/agents/alpha/command'],
  ['POST', `/api/approvals/${id}/approve`], ['POST', `/api/approvals/${id}/reject`], ['POST', '/api/inbox/ack'],
];

test.serial('400 with a message for malformed JSON, an unknown slash command, a bad model name', async (t) => {
  const s = t.context.server;
  for (const [method, p] of BODY_ROUTES(t.context.approvalId)) {
    const res = await call(s, method, p, { headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' }, body: '{"model": "opus",' });
    t.is(res.status, 400, p);
    t.is(res.json?.error?.code, 'invalid_json', p);
    t.regex(res.json?.error?.message ?? '', /not valid JSON/, p);
  }
  const unknown = await s.api<{ error: { message: string } }>('POST', '/api/agents/alpha/command', { command: '/frobnicate' });
  t.is(unknown.status, 400);
  t.regex(unknown.body.error.message, /unknown command "\/frobnicate"; known commands: \/model <name>, \/approve, \/suspend, \/resume, \/revert, \/rollback <rev>/);
  const notSlash = await s.api<{ error: { message: string } }>('POST', '/api/agents/alpha/command', { command: 'model opus' });
  t.is(notSlash.status, 400);
  for (const model of ['two words', 'x'.repeat(200), '', 'bad/model']) {
    const res = await s.api<{ error: { code: string; message: string } }>('POST', '/api/agents/alpha/model', { model });
    t.is(res.status, 400, model);
    t.regex(res.body.error.message, /model/, model);
  }
  const viaSlash = await s.api<{ error: { code: string; message: string } }>('POST', '/api/agents/alpha/command', { command: '/model bad/model' });
  t.is(viaSlash.status, 400);
  t.is(viaSlash.body.error.code, 'invalid_model');
  const arity = await s.api<{ error: { message: string } }>('POST', '/api/agents/alpha/command', { command: '/rollback' });
  t.is(arity.status, 400);
  t.regex(arity.body.error.message, /\/rollback <rev>: expects one argument/);
  const badName = await s.api<{ error: { code: string } }>('POST', '/api/agents', { name: '../x' });
  t.is(badName.status, 400);
  t.is(badName.body.error.code, 'invalid_name');
  // Nothing changed: the model is still the template's.
  t.not((await s.api<{ model: string }>('GET', '/api/agents/alpha')).body.model, 'bad/model');
});

test.serial('413 for a body over 1 MB, declared or streamed', async (t) => {
  const s = t.context.server;
  const big = Buffer.alloc(1024 * 1024 + 1, 'a');
  for (const [method, p] of [...BODY_ROUTES(t.context.approvalId), ['POST', '/agents'] as [string, string]]) {
    const headers: Record<string, string> = p.startsWith('/api/')
      ? { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' }
      : { cookie: t.context.cookie, 'x-csrf-token': t.context.csrf, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    const res = await call(s, method, p, { headers, body: big });
    t.is(res.status, 413, p);
    t.regex(res.json?.error?.message ?? '', /over the 1048576-byte limit/, p);
  }
  // Chunked, without Content-Length: counted while reading.
  const url = new URL(`${s.url}/api/agents/alpha/model`);
  const status = await new Promise<number>((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
    req.on('error', (e) => (e as NodeJS.ErrnoException).code === 'EPIPE' || (e as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(e));
    for (let i = 0; i < 20; i++) req.write(Buffer.alloc(64 * 1024, 'b'));
    req.end();
  });
  t.is(status, 413);
});

test.serial('security headers on pages and API: CSP without inline scripts, no framing', async (t) => {
  const s = t.context.server;
  for (const p of ['/login', '/api/health']) {
    const r = await fetch(`${s.url}${p}`);
    const csp = r.headers.get('content-security-policy') ?? '';
    t.regex(csp, /default-src 'self'/, p);
    t.regex(csp, /script-src 'self'(;|$)/, p);
    t.notRegex(csp, /unsafe-inline|unsafe-eval/, p);
    t.is(r.headers.get('x-frame-options'), 'DENY', p);
    t.is(r.headers.get('x-content-type-options'), 'nosniff', p);
  }
  const dash = await call(s, 'GET', '/', { headers: { cookie: t.context.cookie } });
  t.is(dash.status, 200);
  t.notRegex(dash.text, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline <script>');
  t.notRegex(dash.text, /\son[a-z]+=/i, 'no inline event handlers');
  const css = await fetch(`${s.url}/vendor/diff2html.min.css`);
  t.is(css.status, 200);
  t.regex(css.headers.get('content-type') ?? '', /text\/css/);
  t.is((await fetch(`${s.url}/assets/../package.json`)).status, 404);
});

test.serial('login: wrong token refused without a cookie; logout ends the session', async (t) => {
  const s = t.context.server;
  const bad = await call(s, 'POST', '/login', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=wrong' });
  t.is(bad.status, 401);
  const cross = await call(s, 'POST', '/login', { headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'cross-site' }, body: `token=${encodeURIComponent(s.token)}` });
  t.is(cross.status, 403);
  const agentToken = (await import('node:fs')).readFileSync(`${s.state}/agents/alpha/token`, 'utf8').trim();
  const asAgent = await call(s, 'POST', '/login', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${encodeURIComponent(agentToken)}` });
  t.is(asAgent.status, 401, 'an agent token does not open the operator UI');
  const { cookie, csrf } = await loginSession(s);
  t.is((await call(s, 'GET', '/api/agents', { headers: { cookie } })).status, 200);
  t.is((await call(s, 'POST', '/logout', { headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: `_csrf=${csrf}` })).status, 303);
  t.is((await call(s, 'GET', '/api/agents', { headers: { cookie } })).status, 401);
  const next = await call(s, 'POST', '/login', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${encodeURIComponent(s.token)}&next=${encodeURIComponent('//evil.example/')}` });
  t.is(next.status, 303);
  t.is(next.location, '/', 'no open redirect');
});

test.serial('SSE: /api/events streams a change event when a push raises a request', async (t) => {
  const s = t.context.server;
  const ac = new AbortController();
  const res = await fetch(`${s.url}/api/events`, { headers: { authorization: `Bearer ${s.token}` }, signal: ac.signal });
  t.is(res.status, 200);
  t.regex(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const reader = res.body!.getReader();
  const head = pushByPath(repoOf(s.state, 'alpha'), { 'prompt.md': 'sse test\n' }, { message: 'sse test' });
  let buf = '';
  const dec = new TextDecoder();
  await waitFor('change event for the new request', async () => {
    const { value } = await reader.read();
    buf += dec.decode(value);
    const approvals = (await s.api<{ id: number; head: string }[]>('GET', '/api/approvals?status=pending')).body;
    const req = approvals.find((a) => a.head === head);
    return req && new RegExp(`event: change\\ndata: \\{[^\\n]*"what":"approval","id":${req.id}`).test(buf);
  }, 60_000);
  ac.abort();
  t.pass();
});

test.serial('slash commands run through the controller: /approve, /revert, /rollback, /suspend, /resume', async (t) => {
  t.timeout(120_000);
  const s = t.context.server;
  t.is((await s.api('POST', '/api/agents', { name: 'delta' })).status, 201);
  const first = (await s.api<{ applied: string }>('GET', '/api/agents/delta')).body.applied;
  const cmd = (command: string) => s.api<{ message: string; approvalId?: number; error?: { message: string } }>('POST', '/api/agents/delta/command', { command });

  t.is((await cmd('/approve')).status, 409, 'nothing to approve yet');
  const head = pushByPath(repoOf(s.state, 'delta'), { 'prompt.md': 'delta v2\n' }, { message: 'delta v2' });
  await waitFor('request', async () => (await s.api<{ head: string }[]>('GET', '/api/approvals?agent=delta&status=pending')).body.find((a) => a.head === head), 60_000);
  const approved = await cmd('/approve');
  t.is(approved.status, 200);
  t.regex(approved.body.message, /approved: applied → /);
  t.is((await s.api<{ applied: string }>('GET', '/api/agents/delta')).body.applied, head);

  pushByPath(repoOf(s.state, 'delta'), { 'prompt.md': 'delta v3, unwanted\n' }, { message: 'delta v3' });
  const reverted = await cmd('/revert');
  t.is(reverted.status, 200);
  t.regex(reverted.body.message, /proposed reverted to applied's tree/);
  const after = (await s.api<{ applied: string; proposed: string }>('GET', '/api/agents/delta')).body;
  t.deepEqual((await s.api('GET', '/api/approvals?agent=delta&status=pending')).body, []);

  const rolled = await cmd(`/rollback ${first.slice(0, 10)}`);
  t.is(rolled.status, 200);
  t.regex(rolled.body.message, /rollback proposed as [0-9a-f]{7}: request #\d+ waits for approval/);
  t.truthy(rolled.body.approvalId);
  t.not((await s.api<{ proposed: string }>('GET', '/api/agents/delta')).body.proposed, after.proposed);
  t.is((await cmd('/rollback nothex!')).status, 400);

  t.is((await cmd('/suspend')).status, 200);
  t.true((await s.api<{ suspended: boolean }>('GET', '/api/agents/delta')).body.suspended);
  t.is((await cmd('/resume')).status, 200);
  t.false((await s.api<{ suspended: boolean }>('GET', '/api/agents/delta')).body.suspended);
});
