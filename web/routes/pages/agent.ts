import Router from '@koa/router';
import { HyperhiveError } from '../../../controller/errors.ts';
import { readFileAt } from '../../../repos/read.ts';
import { readJson } from '../../body.ts';
import { safeNext } from '../../session.ts';
import { agentPage } from '../../views/agent.ts';
import { terminalSection } from '../../views/terminal.ts';
import { parseSlash, runSlash, SLASH_COMMANDS } from '../slash.ts';
import { html, inboxDepth, requireBus, sessionOf, short, who, type PageContext } from './context.ts';
import { takeFlash } from './flash.ts';
import { formAction } from './form-action.ts';
import { lifecycleSection } from './kept.ts';
import { agentTurns } from './turns.ts';

/** `/agents/:name`: one agent's revisions, notes, open requests and log; its command line, revert and message forms. */
export function agentRouter(d: PageContext): Router {
  const c = d.controller;
  const rev = d.revisions;
  const r = new Router();
  const pageOf = (name: string): string => `/agents/${encodeURIComponent(name)}`;

  r.get('/agents/:name', ...d.guard, async (ctx) => {
    const a = await c.getAgent(ctx.params.name!);
    const notes = a.live ? await readFileAt(c.repoOf(a.name), a.live, 'notes.md').catch(() => null) : null;
    const open = await Promise.all(c.listApprovals({ agent: a.name, status: ['pending', 'diverged'] }).map((x) => rev.approvalRow(x)));
    const s = sessionOf(ctx);
    // Set only by the redirect after a refused command, so the operator can fix what they typed.
    const lastCommand = typeof ctx.query.command === 'string' ? ctx.query.command.slice(0, 500) : undefined;
    html(ctx, agentPage({
      now: d.now(), csrf: s?.csrf ?? null, identity: who(ctx).name, flash: takeFlash(ctx), agent: a,
      applied: await rev.revisionInfo(a.name, a.applied), proposed: await rev.revisionInfo(a.name, a.proposed),
      notes: notes ? notes.toString('utf8') : null, open, log: c.logEntries({ agent: a.name, limit: 25 }),
      messaging: !!d.bus, inboxDepth: inboxDepth(d, a.name), commands: SLASH_COMMANDS, lastCommand,
      turns: agentTurns(d, ctx, a.name),
      terminal: d.terminal ? terminalSection({ agent: a, commands: SLASH_COMMANDS }) : null,
      lifecycle: lifecycleSection(c, a, d.now(), s?.csrf ?? null),
    }));
  });

  r.post('/agents/:name/command', ...d.guard, async (ctx) => {
    const name = ctx.params.name!;
    c.requireAgent(name);
    const form = await readJson(ctx);
    const back = pageOf(name);
    await formAction(ctx, { to: back, refusedTo: `${back}?command=${encodeURIComponent(String(form.command ?? '').slice(0, 500))}` },
      async () => (await runSlash(c, name, parseSlash(form.command), who(ctx))).message);
  });

  r.post('/agents/:name/revert', ...d.guard, async (ctx) => {
    const name = ctx.params.name!;
    c.requireAgent(name);
    const form = await readJson(ctx);
    const from = safeNext(form.from);
    await formAction(ctx, { to: from === '/' ? pageOf(name) : from }, async () => {
      const res = await c.revert(name, who(ctx));
      return `proposed reverted to applied's tree as ${short(res.commit)}`;
    });
  });

  r.post('/agents/:name/message', ...d.guard, async (ctx) => {
    const name = ctx.params.name!;
    c.requireAgent(name);
    const bus = requireBus(d);
    const form = await readJson(ctx);
    await formAction(ctx, { to: pageOf(name) }, () => {
      if (typeof form.body !== 'string' || !form.body.trim()) throw new HyperhiveError('bad_request', 'the message is empty');
      bus.send({ from: 'operator', to: name, body: form.body });
      return `message sent to ${name}`;
    });
  });

  return r;
}
