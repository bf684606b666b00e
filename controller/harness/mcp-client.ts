import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { HyperhiveError } from '../errors.ts';

export interface McpToolCaller {
  /** Calls a tool; a tool error becomes a thrown HyperhiveError with the tool's text. */
  call(tool: string, args: Record<string, unknown>, timeoutMs?: number): Promise<unknown>;
  close(): Promise<void>;
}

interface ToolResult { isError?: boolean; structuredContent?: unknown; content?: unknown }

/** A tool result's value: structured content if any, else its text (parsed as JSON where it is JSON). */
export function toolResultValue(tool: string, res: ToolResult): unknown {
  const texts = Array.isArray(res.content)
    ? res.content.filter((c): c is { type: 'text'; text: string } => c?.type === 'text' && typeof c.text === 'string').map((c) => c.text)
    : [];
  const text = texts.join('\n');
  if (res.isError) throw new HyperhiveError('bad_request', `MCP tool ${tool} failed: ${text || 'no message'}`, { tool });
  if (res.structuredContent !== undefined) return res.structuredContent;
  try { return JSON.parse(text); } catch { return text; }
}

/**
 * An MCP client on `<url>/mcp` (Streamable HTTP, Bearer token). It connects lazily and
 * reconnects once on a failed call: the controller may have restarted in between.
 */
export function mcpToolCaller(p: { url: string; token: () => Promise<string>; name?: string; headers?: Record<string, string> }): McpToolCaller {
  let client: Client | undefined;
  const endpoint = new URL(p.url.replace(/\/+$/, '') + '/mcp');
  async function connect(): Promise<Client> {
    const c = new Client({ name: p.name ?? 'hyperhive-harness', version: '0.1.0' });
    const transport = new StreamableHTTPClientTransport(endpoint, {
      requestInit: { headers: { ...(p.headers ?? {}), Authorization: `Bearer ${await p.token()}` } },
    });
    await c.connect(transport);
    return c;
  }
  async function once(tool: string, args: Record<string, unknown>, timeoutMs: number): Promise<unknown> {
    client ??= await connect();
    const res = await client.callTool({ name: tool, arguments: args }, undefined, { timeout: timeoutMs });
    return toolResultValue(tool, res as ToolResult);
  }
  return {
    async call(tool, args, timeoutMs = 60_000) {
      try {
        return await once(tool, args, timeoutMs);
      } catch (e) {
        if (e instanceof HyperhiveError) throw e; // the tool answered: no reconnect helps
        const old = client;
        client = undefined;
        await old?.close().catch(() => {});
        return once(tool, args, timeoutMs);
      }
    },
    async close() {
      const c = client;
      client = undefined;
      await c?.close().catch(() => {});
    },
  };
}
