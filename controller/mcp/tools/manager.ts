import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { Approval } from '../../approvals/store.ts';
import { OPEN_STATUSES } from '../../approvals/store.ts';
import type { AgentView } from '../../controller.ts';
import { HyperhiveError } from '../../errors.ts';
import { MANAGER, MODEL_PATTERN, NAME_PATTERN } from '../../names.ts';
import { guarded, ok, requireManager, short, type ToolContext } from '../context.ts';

export const nameArg = (what: string) => z.string().regex(NAME_PATTERN, 'an agent name: lowercase letter first, then lowercase letters, digits or -, at most 32 characters').describe(what);
export const commitArg = (what: string) => z.string().regex(/^[0-9a-fA-F]{4,40}$/, 'a commit SHA: 4 to 40 hex digits').describe(what);

/** A request as the manager sees it: enough to decide what to do, no patch. */
export function requestView(a: Approval, baseUrl: string): Record<string, unknown> {
  return {
    id: a.id, kind: a.kind, agent: a.agent, status: a.status, base: a.base, head: a.head, paths: a.paths, proposer: a.proposer,
    createdAt: a.createdAt, decidedBy: a.decidedBy, reason: a.reason, note: a.note, url: `${baseUrl}/approvals/${a.id}`,
  };
}

function agentSummary(a: AgentView, inbox: number, requests: Record<string, unknown>[]): Record<string, unknown> {
  return {
    name: a.name, state: a.state, suspended: a.suspended, model: a.model, applied: a.applied, proposed: a.proposed,
    runtime: { state: a.runtime.state, revision: a.runtime.revision },
    conditions: a.conditions, inbox, requests,
    ...(a.destroyed ? { destroyed: { at: a.destroyed.at, by: a.destroyed.by, stateBytes: a.destroyed.stateBytes, reason: a.destroyed.reason } } : {}),
  };
}

export function registerManagerTools(server: McpServer, ctx: ToolContext): void {
  const c = ctx.deps.controller;
  const url = () => ctx.deps.baseUrl();

  server.registerTool('list_agents', {
    title: 'List agents (manager)',
    description: 'Manager only. Lists every agent of the fleet (drafts and pending ones included) with its state, model, applied and proposed revisions, runtime state, conditions (Ready / Reconciling / Stalled with a reason), inbox depth, and its open requests (waiting for an operator). Use it to get an overview before deciding what to do. Returns {agents: [...]}.',
    inputSchema: { all: z.boolean().optional().describe('Include destroyed (kept) agents too.') },
  }, guarded(ctx, async ({ all }: { all?: boolean }) => {
    requireManager(ctx, 'list_agents');
    const open = c.listApprovals({ status: OPEN_STATUSES });
    const agents = (await c.listAgents({ all })).map((a) => agentSummary(a, ctx.deps.bus.depth(a.name),
      open.filter((r) => r.agent === a.name).map((r) => requestView(r, url()))));
    return ok({ agents }, `${agents.length} agent(s)`);
  }));

  server.registerTool('agent_status', {
    title: 'One agent\'s status (manager)',
    description: 'Manager only. Everything about one agent: state, revisions (applied, proposed, live, running), model, conditions, runtime, recent history, its open and recently decided requests, inbox depth, and the last lines of its reconciliation log. Use it to find out why an agent is not Ready or what happened to a request. Returns {agent, requests, log}.',
    inputSchema: { name: nameArg('The agent\'s name.') },
  }, guarded(ctx, async ({ name }: { name: string }) => {
    requireManager(ctx, 'agent_status');
    const a = await c.getAgent(name);
    const requests = c.listApprovals({ agent: name }).slice(-10).map((r) => requestView(r, url()));
    const log = c.logEntries({ agent: name, limit: 15 }).map((e) => ({ ts: e.ts, level: e.level, event: e.event, message: e.message }));
    return ok({
      agent: { ...agentSummary(a, ctx.deps.bus.depth(name), []), live: a.live, runtime: a.runtime, lastAppliedRevision: a.lastAppliedRevision, lastAttemptedRevision: a.lastAttemptedRevision, history: a.history.slice(-10) },
      requests, log,
    }, `${name}: ${a.state}, ${a.conditions.map((x) => `${x.type}=${x.status} (${x.reason})`).join(', ')}`);
  }));

  server.registerTool('set_model', {
    title: 'Set an agent\'s model (manager)',
    description: 'Manager only. Sets the model a sub-agent uses (the model file on its live branch). Takes effect at its next turn, without approval and without a restart. Only an operator may change the manager\'s own model. Returns the new live commit.',
    inputSchema: {
      name: nameArg('The sub-agent\'s name.'),
      model: z.string().regex(MODEL_PATTERN, `a model is one word matching ${MODEL_PATTERN.source} (a letter or digit first), e.g. sonnet, opus or a full model id`).describe('Model name, e.g. "sonnet", "opus", or a full model id.'),
    },
  }, guarded(ctx, async ({ name, model }: { name: string; model: string }) => {
    requireManager(ctx, 'set_model');
    if (name === MANAGER && ctx.who.kind !== 'operator') throw new HyperhiveError('forbidden', "name: nobody but an operator sets the manager's model", { field: 'name' });
    const a = await c.setModel(name, model, ctx.who);
    return ok({ agent: name, model: a.model, live: a.live }, `${name} uses ${a.model} from its next turn`);
  }));

  server.registerTool('apply_commit', {
    title: 'Endorse a pending request (manager)',
    description: 'Manager only. Endorses the open change request of an agent whose head is exactly the given commit, recording your note on it for the operator who decides (it does not approve: only an operator approves). Refuses any commit other than the open request\'s head, so you vouch for exactly what you reviewed. Returns the request.',
    inputSchema: {
      name: nameArg('The agent whose request to endorse.'),
      commit: commitArg('The commit you reviewed: must be the head of the agent\'s open request.'),
      note: z.string().min(1).max(4000).describe('Why this change should be approved (shown to the operator).'),
    },
  }, guarded(ctx, async ({ name, commit, note }: { name: string; commit: string; note: string }) => {
    requireManager(ctx, 'apply_commit');
    const updated = await c.endorse(name, commit, note, ctx.who);
    return ok({ request: requestView(updated, url()) }, `request #${updated.id} endorsed; an operator decides: ${url()}/approvals/${updated.id}`);
  }));

  server.registerTool('request_rollback', {
    title: 'Request a rollback (manager)',
    description: 'Manager only. Proposes going back to an earlier applied revision of an agent: commits that revision\'s config on its proposed branch, which raises a change request an operator must approve. Use agent_status to find earlier revisions (history, lastAppliedRevision). Returns {commit, request}.',
    inputSchema: {
      name: nameArg('The agent to roll back.'),
      revision: commitArg('An earlier applied revision (commit SHA) of that agent.'),
    },
  }, guarded(ctx, async ({ name, revision }: { name: string; revision: string }) => {
    requireManager(ctx, 'request_rollback');
    const r = await c.rollback(name, revision, ctx.who);
    const request = r.approval ? requestView(r.approval, url()) : null;
    return ok({ commit: r.commit, request }, request ? `rollback proposed as ${short(r.commit)}: request #${r.approval!.id} waits for approval` : `rollback committed as ${short(r.commit)}: no request (same config as applied)`);
  }));
}
