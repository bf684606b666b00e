import Router from '@koa/router';
import type { Context, Next } from 'koa';
import type { Approval } from '../../controller/approvals/store.ts';
import type { Identity } from '../../controller/auth/identity.ts';
import type { AgentView, Controller } from '../../controller/controller.ts';
import { HyperhiveError, isHyperhiveError } from '../../controller/errors.ts';
import { readFileAt } from '../../repos/read.ts';
import { changedPaths, diffSummary } from '../../repos/diff.ts';
import { requireOperator, type AuthOptions } from '../auth.ts';
import { readJson } from '../body.ts';
import { login, logout, safeNext, type Session, type SessionStore } from '../session.ts';
import type { Broadcaster } from '../sse.ts';
import { agentPage } from '../views/agent.ts';
import { approvalPage, type ApprovalCommit } from '../views/approval.ts';
import type { ApprovalRow, RevisionInfo } from '../views/components.ts';
import { dashboardPage, type DashboardAgent, type PendingRow } from '../views/dashboard.ts';
import { DiffRenderer, parseDiffFormat } from '../views/diff.ts';
import { errorPage } from '../views/error.ts';
import { answerOperatorMessage } from './bus.ts';
import { inboxPage, type InboxMessage } from '../views/inbox.ts';
import type { Flash } from '../views/layout.ts';
import { loginPage } from '../views/login.ts';
import { SizedLru } from '../views/lru.ts';
import { parseSlash, runSlash, SLASH_COMMANDS } from './slash.ts';

/** The bus as the pages use it (structural, so the web layer does not depend on its internals). */
export interface PagesBus {
  depth(recipient: string): number;
  send(input: { from: string; to: string; body: string; kind?: string }): unknown;
  get(id: number): (InboxMessage & { to: string }) | undefined;
  list(options: { recipient?: string; unacked?: boolean; limit?: number }): InboxMessage[];
  ack(recipient: string, upTo?: number): number;
  onMessage?(listener: (m: { id: number; from: string; to: string }) => void): () => void;
}

export interface PagesOptions {
  controller: Controller;
  auth: AuthOptions;
  sessions: SessionStore;
  events: Broadcaster;
  diffs?: DiffRenderer;
  bus?: PagesBus | null;
  /** Shown on the login page so the operator knows where the token is. */
  tokenFile?: string;
  now?: () => number;
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);
const OPERATOR = 'operator';
const short = (s: string | null | undefined): string => (s ? s.slice(0, 7) : 'none');
const who = (ctx: Context): Identity => ctx.state.identity as Identity;
const sessionOf = (ctx: Context): Session | null => (ctx.state.session as Session | undefined) ?? null;
const wantsHtml = (ctx: Context): boolean => ctx.accepts('html', 'json') === 'html';

type PendingFlash = Flash & { path: string };

/**
 * Flash messages of the session meant for this page. Each is bound to the path its redirect went to,
 * and the browser script's background refreshes (x-hh-refresh) never take one, so a refresh racing
 * a redirect cannot swallow the message.
 */
function takeFlash(ctx: Context): Flash[] {
  const s = sessionOf(ctx);
  if (!s || !s.flash.length || ctx.get('x-hh-refresh')) return [];
  const all = s.flash as PendingFlash[];
  const mine = all.filter((f) => f.path === ctx.path);
  s.flash = all.filter((f) => f.path !== ctx.path);
  return mine.map(({ kind, message }) => ({ kind, message }));
}

/** Queues a message for the page this request redirects to (bound by the `page` middleware). */
function flash(ctx: Context, kind: Flash['kind'], message: string): void {
  ((ctx.state.flash ??= []) as Flash[]).push({ kind, message });
}

function bindFlash(ctx: Context): void {
  const pending = ctx.state.flash as Flash[] | undefined;
  const s = sessionOf(ctx);
  if (!pending?.length || !s) return;
  const location = ctx.response.get('location');
  const path = location ? new URL(location, 'http://x').pathname : ctx.path;
  s.flash = [...(s.flash as PendingFlash[]).slice(-20), ...pending.map((f) => ({ ...f, path }))];
}

function idOf(ctx: Context, what = 'request'): number {
  const id = Number(ctx.params.id);
  if (!Number.isInteger(id) || id <= 0) throw new HyperhiveError('bad_request', `${what} id must be a positive integer, got ${JSON.stringify(ctx.params.id)}`);
  return id;
}

/** Server-rendered pages, their form posts (post/redirect/get with a flash message), SSE, and the slash-command API. */
export function pagesRouter(o: PagesOptions): Router {
  const c = o.controller;
  const now = o.now ?? Date.now;
  const diffs = o.diffs ?? new DiffRenderer();
  const r = new Router();
  const commits = new SizedLru<{ subject: string; author: string; date: number }>(20_000);
  const stats = new SizedLru<{ added: number; deleted: number }>(20_000);

  // Browsers get an HTML error page; scripts asking for JSON keep the API's error shape.
  const pageErrors = async (ctx: Context, next: Next): Promise<void> => {
    try { await next(); } catch (e) {
      if (!isHyperhiveError(e) || !wantsHtml(ctx)) throw e;
      ctx.status = e.status;
      ctx.type = 'html';
      ctx.body = errorPage({ status: e.status, message: e.message, identity: ctx.state.identity?.name ?? null, csrf: sessionOf(ctx)?.csrf ?? null }).value;
    }
  };

  /** Operators only; an anonymous browser is sent to the login page; cookie writes need the CSRF token. */
  const page = async (ctx: Context, next: Next): Promise<void> => {
    const id = ctx.state.identity as Identity | undefined;
    if (!id) {
      if (SAFE.has(ctx.method)) { ctx.redirect(`/login?next=${encodeURIComponent(ctx.originalUrl)}`); return; }
      throw new HyperhiveError('unauthorized', 'log in first');
    }
    if (id.kind !== 'operator') throw new HyperhiveError('forbidden', `agent ${id.name} may not use the operator UI`);
    if (ctx.state.via === 'cookie' && !SAFE.has(ctx.method)) await o.auth.checkCsrf?.(ctx);
    await next();
    bindFlash(ctx);
  };

  const html = (ctx: Context, body: { value: string }, status = 200): void => {
    ctx.status = status;
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = body.value;
  };

  async function revisionInfo(agent: string, sha: string | null): Promise<RevisionInfo | null> {
    if (!sha) return null;
    let ci = commits.get(sha);
    if (!ci) {
      const info = await c.commitInfo(agent, sha).catch(() => null);
      if (!info) return null;
      ci = { subject: info.subject, author: info.author.name, date: info.author.date };
      commits.set(sha, ci, 1);
    }
    // Looked up each time: the push record can land a moment after the commit is readable.
    const proposer = c.refEvents.pusherOf(agent, 'refs/heads/proposed', sha) ?? c.refEvents.pusherOf(agent, 'refs/heads/applied', sha);
    return { sha, ...ci, proposer };
  }

  async function approvalRow(a: Approval): Promise<ApprovalRow> {
    if (!a.base || !a.head) return { approval: a, added: null, deleted: null };
    if (typeof a.data.additions === 'number') return { approval: a, added: a.data.additions, deleted: Number(a.data.deletions ?? 0) };
    const key = `${a.base}..${a.head}`;
    let s = stats.get(key);
    if (!s) {
      const paths = await changedPaths(c.paths.repo(a.agent), a.base, a.head).catch(() => null);
      if (!paths) return { approval: a, added: null, deleted: null };
      s = { added: paths.reduce((n, p) => n + p.additions, 0), deleted: paths.reduce((n, p) => n + p.deletions, 0) };
      stats.set(key, s, 1);
    }
    return { approval: a, ...s };
  }

  const requireBus = (): PagesBus => {
    if (!o.bus) throw new HyperhiveError('not_found', 'messaging is not available: no bus is wired into this controller');
    return o.bus;
  };

  const inboxDepth = (name: string): number | null => {
    try { return o.bus ? o.bus.depth(name) : null; } catch { return null; }
  };

  // ---- login ----------------------------------------------------------------------------------

  r.get('/login', (ctx) => {
    const next = safeNext(ctx.query.next);
    if ((ctx.state.identity as Identity | undefined)?.kind === 'operator') { ctx.redirect(next); return; }
    html(ctx, loginPage({ next, tokenFile: o.tokenFile }));
  });

  r.post('/login', async (ctx) => {
    const form = await readJson(ctx);
    const res = login(ctx, form, o.auth.tokens, o.sessions);
    if (!res.ok) { html(ctx, loginPage({ error: res.message, next: safeNext(form.next), tokenFile: o.tokenFile }), res.status); return; }
    ctx.status = 303;
    ctx.redirect(res.next);
  });

  r.post('/logout', pageErrors, page, (ctx) => {
    logout(ctx, o.sessions);
    ctx.status = 303;
    ctx.redirect('/login');
  });

  // ---- dashboard ------------------------------------------------------------------------------

  r.get('/', pageErrors, page, async (ctx) => {
    const all = await c.listAgents({ all: true });
    const shown = all.filter((a) => a.state !== 'kept');
    const agents: DashboardAgent[] = await Promise.all(shown.map(async (a: AgentView) => ({
      agent: a,
      applied: await revisionInfo(a.name, a.applied),
      proposed: a.proposed && a.proposed !== a.applied ? await revisionInfo(a.name, a.proposed) : null,
      inboxDepth: inboxDepth(a.name),
    })));
    const queue = await Promise.all(c.listApprovals({ status: ['pending', 'diverged'] }).map(approvalRow));
    const drafts = await Promise.all(all.filter((a) => a.state === 'draft').map(async (a) => ({ agent: a, proposed: await revisionInfo(a.name, a.proposed) })));
    // A pending agent waits for its newest open spawn or revive request (null once that was decided).
    const pending: PendingRow[] = all.filter((a) => a.state === 'pending').map((a) => ({
      agent: a, request: c.approvals.list({ agent: a.name, status: ['pending'] }).filter((x) => x.kind === 'spawn' || x.kind === 'revive').at(-1) ?? null,
    }));
    html(ctx, dashboardPage({
      now: now(), csrf: sessionOf(ctx)?.csrf ?? null, identity: who(ctx).name, flash: takeFlash(ctx),
      agents, queue, drafts, pending, operatorUnread: inboxDepth(OPERATOR), log: c.log.list({ limit: 25 }),
    }));
  });

  r.post('/agents', pageErrors, page, async (ctx) => {
    const form = await readJson(ctx);
    const name = typeof form.name === 'string' ? form.name.trim() : '';
    try {
      await c.createAgent(name, who(ctx));
      flash(ctx, 'ok', `agent ${name} created`);
      ctx.status = 303;
      ctx.redirect(`/agents/${encodeURIComponent(name)}`);
    } catch (e) {
      if (!isHyperhiveError(e)) throw e;
      flash(ctx, 'error', e.message);
      ctx.status = 303;
      ctx.redirect('/');
    }
  });

  // ---- agent page -----------------------------------------------------------------------------

  r.get('/agents/:name', pageErrors, page, async (ctx) => {
    const a = await c.getAgent(ctx.params.name!);
    const notes = a.live ? await readFileAt(c.paths.repo(a.name), a.live, 'notes.md').catch(() => null) : null;
    const open = await Promise.all(c.listApprovals({ agent: a.name, status: ['pending', 'diverged'] }).map(approvalRow));
    const s = sessionOf(ctx);
    // Set only by the redirect after a refused command, so the operator can fix what they typed.
    const lastCommand = typeof ctx.query.command === 'string' ? ctx.query.command.slice(0, 500) : undefined;
    html(ctx, agentPage({
      now: now(), csrf: s?.csrf ?? null, identity: who(ctx).name, flash: takeFlash(ctx), agent: a,
      applied: await revisionInfo(a.name, a.applied), proposed: await revisionInfo(a.name, a.proposed),
      notes: notes ? notes.toString('utf8') : null, open, log: c.log.list({ agent: a.name, limit: 25 }),
      messaging: !!o.bus, inboxDepth: inboxDepth(a.name), commands: SLASH_COMMANDS, lastCommand,
    }));
  });

  r.post('/agents/:name/command', pageErrors, page, async (ctx) => {
    const name = ctx.params.name!;
    c.requireAgent(name);
    const form = await readJson(ctx);
    const back = `/agents/${encodeURIComponent(name)}`;
    try {
      const res = await runSlash(c, name, parseSlash(form.command), who(ctx));
      flash(ctx, 'ok', res.message);
      ctx.status = 303;
      ctx.redirect(back);
    } catch (e) {
      if (!isHyperhiveError(e)) throw e;
      flash(ctx, 'error', e.message);
      ctx.status = 303;
      ctx.redirect(`${back}?command=${encodeURIComponent(String(form.command ?? '').slice(0, 500))}`);
    }
  });

  r.post('/agents/:name/revert', pageErrors, page, async (ctx) => {
    const name = ctx.params.name!;
    c.requireAgent(name);
    const form = await readJson(ctx);
    try {
      const res = await c.revert(name, who(ctx));
      flash(ctx, 'ok', `proposed reverted to applied's tree as ${short(res.commit)}`);
    } catch (e) {
      if (!isHyperhiveError(e)) throw e;
      flash(ctx, 'error', e.message);
    }
    ctx.status = 303;
    ctx.redirect(safeNext(form.from) === '/' ? `/agents/${encodeURIComponent(name)}` : safeNext(form.from));
  });

  r.post('/agents/:name/message', pageErrors, page, async (ctx) => {
    const name = ctx.params.name!;
    c.requireAgent(name);
    if (!o.bus) throw new HyperhiveError('not_found', 'messaging is not available: no bus is wired into this controller');
    const form = await readJson(ctx);
    try {
      if (typeof form.body !== 'string' || !form.body.trim()) throw new HyperhiveError('bad_request', 'the message is empty');
      o.bus.send({ from: 'operator', to: name, body: form.body });
      flash(ctx, 'ok', `message sent to ${name}`);
    } catch (e) {
      if (!isHyperhiveError(e)) throw e;
      flash(ctx, 'error', e.message);
    }
    ctx.status = 303;
    ctx.redirect(`/agents/${encodeURIComponent(name)}`);
  });

  // ---- operator inbox -------------------------------------------------------------------------
  // Plain forms with post/redirect/get, so the inbox works without the browser script; the script
  // sends the same actions to /api/inbox/… and updates the page in place.

  r.get('/inbox', pageErrors, page, (ctx) => {
    const s = sessionOf(ctx);
    const base = { now: now(), csrf: s?.csrf ?? null, identity: who(ctx).name, flash: takeFlash(ctx) };
    if (!o.bus) { html(ctx, inboxPage({ ...base, messages: [], unread: 0, available: false })); return; }
    // The newest 200, plus every unread one even if older, so nothing waiting is hidden.
    const byId = new Map<number, InboxMessage>();
    for (const m of o.bus.list({ recipient: OPERATOR, limit: 200 })) byId.set(m.id, m);
    for (const m of o.bus.list({ recipient: OPERATOR, unacked: true, limit: 1000 })) byId.set(m.id, m);
    html(ctx, inboxPage({ ...base, messages: [...byId.values()], unread: o.bus.depth(OPERATOR), available: true }));
  });

  r.post('/inbox/ack', pageErrors, page, async (ctx) => {
    const bus = requireBus();
    const form = await readJson(ctx);
    // The form names the newest message it showed, so one that arrived meanwhile stays unread.
    const upTo = form.upTo === undefined || form.upTo === '' ? Number.MAX_SAFE_INTEGER : Number(form.upTo);
    if (!Number.isInteger(upTo) || upTo < 0) {
      flash(ctx, 'error', `upTo must be a message id (a non-negative integer), got ${JSON.stringify(String(form.upTo).slice(0, 50))}`);
    } else {
      const n = bus.ack(OPERATOR, upTo);
      flash(ctx, 'ok', `${n} message${n === 1 ? '' : 's'} marked read`);
    }
    ctx.status = 303;
    ctx.redirect('/inbox');
  });

  r.post('/inbox/:id/answer', pageErrors, page, async (ctx) => {
    const bus = requireBus();
    const id = idOf(ctx, 'message');
    const q = bus.get(id);
    if (!q || q.to !== OPERATOR) throw new HyperhiveError('not_found', `no message #${id} in the operator's inbox`);
    const form = await readJson(ctx);
    try {
      answerOperatorMessage(c, bus as never, id, typeof form.body === 'string' ? form.body : '');
      flash(ctx, 'ok', `answer sent to ${q.from}`);
    } catch (e) {
      if (!isHyperhiveError(e)) throw e;
      flash(ctx, 'error', `Answer refused: ${e.message}`);
    }
    ctx.status = 303;
    ctx.redirect(`/inbox#msg-${id}`);
  });

  // ---- approval page --------------------------------------------------------------------------

  /** Commits of base..head: immutable, so cached once every proposer is known (push records can lag). */
  const commitLists = new SizedLru<ApprovalCommit[]>(2_000);
  async function approvalCommits(a: Approval): Promise<ApprovalCommit[]> {
    const key = `${a.agent}:${a.base}..${a.head}`;
    const hit = commitLists.get(key);
    if (hit) return hit;
    const list = await c.approvalCommits(a.id);
    if (list.every((x) => x.proposer)) commitLists.set(key, list, 1);
    return list;
  }

  /** The patch with git's -z list of its paths (one git process), so names with spaces, tabs or newlines are shown and addressed as they are. */
  const approvalDiff = (a: Approval) => () => diffSummary(c.paths.repo(a.agent), a.base!, a.head!);

  r.get('/approvals/:id', pageErrors, page, async (ctx) => {
    const a = c.getApproval(idOf(ctx));
    const format = parseDiffFormat(ctx.query.view);
    // Independent reads in parallel: each may be a git process.
    const [agent, diff, commitList] = await Promise.all([
      c.agents.get(a.agent) ? c.getAgent(a.agent) : Promise.resolve(null),
      a.base && a.head ? diffs.renderLazy(`${a.base}..${a.head}`, approvalDiff(a), format) : Promise.resolve(null),
      approvalCommits(a),
    ]);
    let stale: { message: string; newer: Approval | null } | null = null;
    if (a.status === 'pending' && a.kind === 'change' && agent) {
      const moved: string[] = [];
      if (agent.applied !== a.base) moved.push(`applied moved from ${short(a.base)} to ${short(agent.applied)}`);
      if (agent.proposed !== a.head) moved.push(`proposed moved from ${short(a.head)} to ${short(agent.proposed)}`);
      if (moved.length) {
        const newer = c.approvals.openChange(a.agent);
        // Between the ref moving and the reconciler raising its request the page has no link to
        // give yet; say so, and the live refresh replaces this once the request exists.
        const coming = agent.proposed !== a.head && (!newer || newer.id === a.id) ? ` A request for ${short(agent.proposed)} is being raised.` : '';
        stale = { message: `${moved.join('; ')}. Approving this request would be refused.${coming}`, newer };
      }
    }
    if (a.status === 'superseded' && a.supersededBy) {
      const newer = c.approvals.get(a.supersededBy);
      stale = { message: `a newer push to proposed superseded this request${newer ? ` (request #${newer.id} is ${newer.status})` : ''}.`, newer: c.approvals.openChange(a.agent) ?? newer };
    }
    html(ctx, approvalPage({
      now: now(), csrf: sessionOf(ctx)?.csrf ?? null, identity: who(ctx).name, flash: takeFlash(ctx),
      approval: a, agent, commits: commitList, diff, stale, votes: c.approvals.votes(a.id), configChecks: c.checksConfig,
    }));
  });

  r.get('/approvals/:id/file', pageErrors, page, async (ctx) => {
    const a = c.getApproval(idOf(ctx));
    const path = typeof ctx.query.path === 'string' ? ctx.query.path : '';
    if (!path) throw new HyperhiveError('bad_request', 'query parameter "path" is required');
    if (!a.base || !a.head) throw new HyperhiveError('not_found', `request #${a.id} has no diff`);
    const frag = await diffs.renderFileLazy(`${a.base}..${a.head}`, approvalDiff(a), path, parseDiffFormat(ctx.query.view));
    if (!frag) throw new HyperhiveError('not_found', `request #${a.id} does not change ${JSON.stringify(path.slice(0, 200))}`);
    html(ctx, frag);
  });

  const decide = (action: 'approve' | 'reject') => async (ctx: Context) => {
    const id = c.getApproval(idOf(ctx)).id;
    const form = await readJson(ctx);
    try {
      if (action === 'approve') {
        const a = await c.approve(id, who(ctx));
        flash(ctx, 'ok', `request #${id} approved: applied moved to ${short(a.head)}`);
      } else {
        const reason = typeof form.reason === 'string' ? form.reason.trim() : '';
        if (!reason) throw new HyperhiveError('bad_request', 'a rejection needs a reason');
        await c.reject(id, who(ctx), reason);
        flash(ctx, 'ok', `request #${id} rejected`);
      }
    } catch (e) {
      if (!isHyperhiveError(e)) throw e;
      flash(ctx, 'error', `${action === 'approve' ? 'Approval' : 'Rejection'} refused: ${e.message}`);
    }
    ctx.status = 303;
    ctx.redirect(`/approvals/${id}`);
  };
  r.post('/approvals/:id/approve', pageErrors, page, decide('approve'));
  r.post('/approvals/:id/reject', pageErrors, page, decide('reject'));

  // ---- API additions: live events and slash commands ---------------------------------------

  const op = requireOperator(o.auth);
  r.get('/api/events', op, o.events.handler());
  r.post('/api/agents/:name/command', op, async (ctx) => {
    const name = ctx.params.name!;
    c.requireAgent(name);
    const body = await readJson(ctx);
    ctx.body = await runSlash(c, name, parseSlash(body.command), who(ctx));
  });

  return r;
}
