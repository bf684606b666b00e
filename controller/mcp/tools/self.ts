import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { HyperhiveError } from '../../errors.ts';
import { MANAGER } from '../../names.ts';
import { guarded, isManagerOrOperator, ok, repoToolInput, short, targetAgent, type ToolContext } from '../context.ts';

export { MAX_NOTES_BYTES } from '../../ops/write-notes.ts';

export function registerSelfTools(server: McpServer, ctx: ToolContext): void {
  const c = ctx.deps.controller;
  const manages = isManagerOrOperator(ctx.who);

  server.registerTool('whoami', {
    title: 'Who am I',
    description: 'Tells you who the controller knows you as (from your token): your agent name, whether you are the manager, your state, the config revision applied to you and the one running, and your model. Use it at the start of a session or when unsure which agent you are.',
    inputSchema: {},
  }, guarded(ctx, async () => {
    const { who } = ctx;
    if (who.kind === 'operator') return ok({ name: who.name, kind: 'operator', manager: false }, 'you are an operator');
    const a = await c.getAgent(who.name);
    return ok({
      name: a.name, kind: 'agent', manager: a.name === MANAGER, state: a.state, applied: a.applied, proposed: a.proposed, live: a.live,
      running: a.runtime.revision, model: a.model, inbox: ctx.deps.bus.depth(a.name),
    }, `you are ${a.name}${a.name === MANAGER ? ' (the manager)' : ''}, applied ${short(a.applied)}, model ${a.model ?? 'none'}`);
  }));

  server.registerTool('write_notes', {
    title: 'Write your notes',
    description: `Replace your durable notes (notes.md on your live branch) with new content. Your notes are your memory across turns and restarts: the harness gives them back to you at every turn. They take effect at once, without approval, and restart nothing. Write the whole file (read it first with read_config path "notes.md", ref "live", to keep what you had).${manages ? ' The manager may pass agent to write a sub-agent\'s notes.' : ''} Returns the new live commit.`,
    inputSchema: repoToolInput(ctx, {
      content: z.string().describe('The whole new notes.md (markdown, at most 1 MB; may be empty).'),
      message: z.string().min(1).max(500).optional().describe('Commit message (default "Update notes").'),
    }, 'Whose notes to write: a sub-agent\'s (default: your own; an operator has none and names one).'),
  }, guarded(ctx, async ({ content, message, agent }: { content: string; message?: string; agent?: string }) => {
    const name = targetAgent(ctx, agent, 'write_notes');
    const result = await c.writeNotes(name, content, message, ctx.who);
    return ok({ agent: name, ...result }, result.unchanged ? 'notes unchanged (same content)' : `notes written: live is ${short(result.commit)}`);
  }));
}
