import type { IncomingMessage, ServerResponse } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { tokenFromAuthorization, type Identity } from '../auth/index.ts';
import { can } from '../lifecycle.ts';
import { isManagerOrOperator, type McpDeps, type ToolContext } from './context.ts';
import { registerBusTools } from './tools/bus.ts';
import { registerConfigTools } from './tools/config.ts';
import { registerLifecycleTools } from './tools/lifecycle.ts';
import { registerManagerTools } from './tools/manager.ts';
import { registerSelfTools } from './tools/self.ts';
import { registerSpawnTools } from './tools/spawn.ts';

export const MCP_PATH = '/mcp';
export const SERVER_NAME = 'hyperhive';

const COMMON = `hyperhive runs a fleet of AI agents; you are one of them (whoami tells you which).
Talk to other agents, the manager and the operator (a human) only with send and recv.
Your config (agent.nix, hyperhive.json, prompt.md) changes only through propose_change and an operator's approval;`;

/** What the caller is told matches the tools it is given: a sub-agent hears nothing of the manager's. */
function instructionsFor(who: Identity): string {
  return isManagerOrOperator(who)
    ? `${COMMON}
notes (write_notes) and a sub-agent's model (set_model) take effect at once. The tools marked "Manager only" run the fleet:
list_agents and agent_status to look, request_spawn* to grow it, request_destroy and request_revive to shrink and restore it (an operator decides), apply_commit to endorse a request, request_rollback.
read_config, propose_change and write_notes take agent to act on a sub-agent's repo.`
    : `${COMMON}
your notes (write_notes) take effect at once. The manager or an operator sets your model; ask the manager for anything beyond your own repo.`;
}

/** The MCP server for one caller: every tool sees that caller's identity and nothing else, and it lists only the tools that identity may call. */
export function buildMcpServer(deps: McpDeps, who: Identity, signal: AbortSignal): McpServer {
  const server = new McpServer({ name: SERVER_NAME, version: '0.1.0' }, { instructions: instructionsFor(who), capabilities: { tools: {} } });
  const ctx: ToolContext = { deps, who, signal };
  registerBusTools(server, ctx);
  registerSelfTools(server, ctx);
  registerConfigTools(server, ctx);
  if (isManagerOrOperator(who)) {
    registerManagerTools(server, ctx);
    registerSpawnTools(server, ctx);
    registerLifecycleTools(server, ctx);
  }
  return server;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/**
 * The raw HTTP handler for /mcp (Streamable HTTP, stateless: one server and transport per POST, so
 * a restarted controller has no sessions to lose). The bearer token is checked before any MCP
 * handling; a long-polling recv ends, handing out nothing, when its request goes away.
 */
export function createMcpHandler(deps: McpDeps): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  // An agent's calls in flight (a long-polling recv), ended when its token stops working (destroy).
  const inflight = new Map<string, Set<{ aborter: AbortController; res: ServerResponse }>>();
  deps.controller.events.on('agent.changed', (e) => {
    if (e.what !== 'state' || !inflight.has(e.agent)) return;
    const rec = deps.controller.findAgent(e.agent);
    if (rec && can(rec.state, 'authenticate')) return;
    for (const c of inflight.get(e.agent) ?? []) {
      c.aborter.abort(new Error(`agent ${e.agent} was destroyed`));
      c.res.destroy();
    }
    inflight.delete(e.agent);
  });
  return async (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== MCP_PATH && path !== `${MCP_PATH}/`) return false;
    const who = deps.controller.authenticate(tokenFromAuthorization(req.headers.authorization));
    if (!who) {
      sendJson(res, 401, { error: { code: 'unauthorized', message: 'authentication required: send `Authorization: Bearer <agent token>` (the agent\'s token file, $HYPERHIVE_TOKEN_FILE)' } },
        { 'www-authenticate': 'Bearer realm="hyperhive"' });
      return true;
    }
    if (req.method !== 'POST') {
      // Stateless: no standalone SSE stream (GET) and no session to delete (DELETE).
      sendJson(res, 405, { jsonrpc: '2.0', error: { code: -32000, message: `Method not allowed: ${req.method} (this MCP endpoint is stateless; POST JSON-RPC messages)` }, id: null }, { allow: 'POST' });
      return true;
    }
    const aborter = new AbortController();
    const server = buildMcpServer(deps, who, aborter.signal);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    if (who.kind === 'agent') {
      const mine = inflight.get(who.name) ?? new Set();
      const entry = { aborter, res };
      mine.add(entry);
      inflight.set(who.name, mine);
      res.on('close', () => { mine.delete(entry); if (!mine.size && inflight.get(who.name) === mine) inflight.delete(who.name); });
    }
    res.on('close', () => {
      aborter.abort(new Error('the MCP request was closed'));
      void transport.close().catch(() => {});
      void server.close().catch(() => {});
    });
    try {
      await server.connect(transport);
      await transport.handleRequest(req, res);
    } catch (e) {
      deps.log.warn(who.kind === 'agent' ? who.name : null, 'mcp', `MCP request failed: ${(e as Error).message}`);
      if (!res.headersSent) sendJson(res, 500, { jsonrpc: '2.0', error: { code: -32603, message: 'internal error' }, id: null });
      else res.end();
    }
    return true;
  };
}
