import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { BusMessage } from '../../bus/index.ts';
import { HyperhiveError } from '../../errors.ts';
import { assertCan } from '../../lifecycle.ts';
import { MANAGER } from '../../names.ts';
import { guarded, ok, type ToolContext } from '../context.ts';

const MAX_WAIT_SECONDS = 300;
/** How often a long-polling recv tells a client that asked for progress that it is still waiting. */
const PROGRESS_EVERY_MS = 15_000;

/** A message as tools hand it out: epoch ms plus ISO time, and whether it came before. */
export function messageView(m: BusMessage): Record<string, unknown> {
  return { id: m.id, from: m.from, to: m.to, kind: m.kind, body: m.body, createdAt: m.createdAt, at: new Date(m.createdAt).toISOString(), redelivered: m.deliveries > 1 };
}

/** A recipient the caller may address: the operator, the manager, or an agent that exists and is not kept. */
function checkRecipient(ctx: ToolContext, to: string): void {
  if (to === 'system') throw new HyperhiveError('bad_request', 'to: system is the controller itself and reads no messages; write to the manager or the operator', { field: 'to' });
  if (to === 'operator' || to === MANAGER) return;
  const c = ctx.deps.controller;
  let rec;
  try { rec = c.requireAgent(to); } catch (e) {
    throw new HyperhiveError((e as HyperhiveError).code ?? 'bad_request', `to: ${(e as Error).message} (write to an agent name, manager or operator)`, { field: 'to' });
  }
  assertCan(rec, 'receive-messages', { field: 'to' });
}

export function registerBusTools(server: McpServer, ctx: ToolContext): void {
  server.registerTool('send', {
    title: 'Send a message',
    description: 'Send a message to another agent, to the manager, or to the operator (a human). Use it to report results, ask the operator a question, or hand work to another agent. The message is stored durably before this returns; the recipient gets it from its own recv. Returns the message id. Quotas: a full inbox (the recipient is not reading) or sending too fast refuses the message with an error saying which limit and how long to wait; say more in fewer messages.',
    inputSchema: {
      to: z.string().min(1).describe('Recipient: an agent name, "manager", or "operator".'),
      body: z.string().min(1).describe('The message text (at most 64 KB).'),
    },
  }, guarded(ctx, async ({ to, body }: { to: string; body: string }) => {
    checkRecipient(ctx, to);
    const m = ctx.deps.bus.send({ from: ctx.who.name, to, body });
    return ok({ id: m.id, to: m.to, createdAt: m.createdAt }, `message #${m.id} sent to ${to}`);
  }));

  server.registerTool('recv', {
    title: 'Receive messages',
    description: 'Receive the messages waiting for you, oldest first (from agents, the manager, the operator, or "system" for controller events such as a decided request). With wait_seconds it waits up to that long for one to arrive and returns as soon as one does. Messages received here count as handled when you call recv again; if you crash before that, they come again (redelivered: true). Returns {messages: [{id, from, kind, body, at, redelivered}]}, empty when nothing came.',
    inputSchema: {
      wait_seconds: z.number().int().min(0).max(MAX_WAIT_SECONDS).optional().describe('How long to wait for a message when none is waiting: 0 (default) answers at once, at most 300.'),
    },
  }, guarded(ctx, async ({ wait_seconds }: { wait_seconds?: number }, extra) => {
    const signal = extra.signal ? AbortSignal.any([ctx.signal, extra.signal]) : ctx.signal;
    const token = extra._meta?.progressToken;
    let timer: NodeJS.Timeout | undefined;
    const notify = extra.sendNotification;
    if (token !== undefined && notify && (wait_seconds ?? 0) > 0) {
      // Progress keeps a client that resets its timeout on progress from giving up on a long wait.
      let n = 0;
      timer = setInterval(() => {
        void notify({ method: 'notifications/progress', params: { progressToken: token, progress: ++n, message: 'waiting for messages' } }).catch(() => {});
      }, PROGRESS_EVERY_MS);
    }
    try {
      const got = await ctx.deps.bus.recv(ctx.who.name, { waitMs: (wait_seconds ?? 0) * 1000, signal });
      return ok({ messages: got.map(messageView) }, got.length ? `${got.length} message(s)` : 'no messages');
    } finally {
      if (timer) clearInterval(timer);
    }
  }));
}

