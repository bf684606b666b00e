import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { guarded, ok, requireManager, short, type ToolContext } from '../context.ts';
import { nameArg, requestView } from './manager.ts';

/**
 * The manager's lifecycle tools: always a request an operator decides. There is no purge tool (only
 * an operator purges), and neither tool takes the manager itself.
 */
export function registerLifecycleTools(server: McpServer, ctx: ToolContext): void {
  const c = ctx.deps.controller;
  const url = () => ctx.deps.baseUrl();

  server.registerTool('request_destroy', {
    title: 'Request a sub-agent\'s destroy (manager)',
    description: 'Manager only. Asks an operator to destroy a sub-agent: when approved, its runtime stops and its token stops working, while its repo (every branch) and state dir are kept, so it can be revived later. Nothing happens before an operator approves; a rejection leaves it running. You cannot destroy yourself. Returns {request}.',
    inputSchema: {
      name: nameArg('The sub-agent to destroy.'),
      reason: z.string().min(1).max(2000).optional().describe('Why (shown to the operator who decides).'),
    },
  }, guarded(ctx, async ({ name, reason }: { name: string; reason?: string }) => {
    requireManager(ctx, 'request_destroy');
    const a = await c.requestDestroy(name, ctx.who, reason ?? null);
    return ok({ request: requestView(a, url()) }, `destroy request #${a.id} for ${name} waits for an operator: ${url()}/approvals/${a.id}; ${name} runs on until then`);
  }));

  server.registerTool('request_revive', {
    title: 'Request a destroyed sub-agent\'s revive (manager)',
    description: 'Manager only. Asks an operator to revive a destroyed (kept) sub-agent: when approved, it starts again at its last applied revision with its state and a new token. list_agents with all: true shows the kept ones. Returns {request}.',
    inputSchema: { name: nameArg('The destroyed sub-agent to revive.') },
  }, guarded(ctx, async ({ name }: { name: string }) => {
    requireManager(ctx, 'request_revive');
    const a = await c.requestRevive(name, ctx.who);
    return ok({ request: requestView(a, url()) }, `revive request #${a.id} for ${name} at ${short(a.head)} waits for an operator: ${url()}/approvals/${a.id}`);
  }));
}
