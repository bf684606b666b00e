import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { guarded, ok, requireManager, short, type ToolContext } from '../context.ts';
import { commitArg, nameArg, requestView } from './manager.ts';

export function registerSpawnTools(server: McpServer, ctx: ToolContext): void {
  const { spawner } = ctx.deps;
  const url = () => ctx.deps.baseUrl();

  server.registerTool('request_spawn', {
    title: 'Request a new agent (manager)',
    description: 'Manager only. Asks for a new sub-agent built from the standard templates: creates its repo with the agent pending (no runtime) and raises a spawn request. When an operator approves it, the agent becomes active and starts. Use request_spawn_draft instead if you want to shape its config (prompt.md, hyperhive.json, agent.nix) before asking. Returns {agent, request}.',
    inputSchema: { name: nameArg('Name of the new agent, e.g. "researcher".') },
  }, guarded(ctx, async ({ name }: { name: string }) => {
    requireManager(ctx, 'request_spawn');
    const r = await spawner.requestSpawn(name, ctx.who);
    const request = r.approval ? requestView(r.approval, url()) : null;
    return ok({ agent: { name: r.agent.name, state: r.agent.state, applied: r.agent.applied }, request },
      `agent ${name} is pending: spawn request #${r.approval?.id} waits for operator approval: ${url()}/approvals/${r.approval?.id}`);
  }));

  server.registerTool('request_spawn_draft', {
    title: 'Create a draft agent (manager)',
    description: 'Manager only. Creates a new agent as a draft: its repo (from the templates) and state dir, but no runtime and no requests. Edit its config with propose_change (passing agent) or with git, then call request_spawn_commit with the commit you want it to start from. Returns {agent, proposed, git}.',
    inputSchema: { name: nameArg('Name of the new agent.') },
  }, guarded(ctx, async ({ name }: { name: string }) => {
    requireManager(ctx, 'request_spawn_draft');
    const r = await spawner.requestSpawnDraft(name, ctx.who);
    const git = `${url()}/git/${name}.git`;
    return ok({ agent: { name: r.agent.name, state: r.agent.state, applied: r.agent.applied }, proposed: r.agent.proposed, git },
      `draft ${name} created at ${short(r.agent.proposed)}; edit it with propose_change(agent: "${name}") or git (${git}), then request_spawn_commit`);
  }));

  server.registerTool('request_spawn_commit', {
    title: 'Request a draft\'s spawn at a commit (manager)',
    description: 'Manager only. Raises a spawn request for a draft agent at exactly the given commit of its proposed branch (as returned by propose_change). When an operator approves it, the agent\'s applied config becomes that commit and the agent becomes active and starts. A newer call for the same draft replaces an open request. Returns {agent, request}.',
    inputSchema: {
      name: nameArg('The draft agent.'),
      commit: commitArg('The commit of its proposed branch to start from.'),
    },
  }, guarded(ctx, async ({ name, commit }: { name: string; commit: string }) => {
    requireManager(ctx, 'request_spawn_commit');
    const r = await spawner.requestSpawnCommit(name, commit, ctx.who);
    const request = r.approval ? requestView(r.approval, url()) : null;
    return ok({ agent: { name: r.agent.name, state: r.agent.state }, request },
      `spawn request #${r.approval?.id} for ${name} at ${short(r.approval?.head)} waits for operator approval: ${url()}/approvals/${r.approval?.id}`);
  }));
}
