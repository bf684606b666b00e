// SDK clients over real HTTP on loopback, and tool-call helpers.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

/** An SDK client connected to <url>/mcp with a bearer token. */
export async function connect(url: string, token: string, name = 'hyperhive-test'): Promise<Client> {
  const client = new Client({ name, version: '0.0.1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  return client;
}

export interface Called { isError: boolean; text: string; value: any }

/** Calls a tool and returns its error flag, text and structured value. */
export async function call(client: Client, name: string, args: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<Called> {
  const res = await client.callTool({ name, arguments: args }, undefined, { timeout: timeoutMs }) as { isError?: boolean; content?: { type: string; text?: string }[]; structuredContent?: unknown };
  const text = (res.content ?? []).filter((c) => c.type === 'text').map((c) => c.text ?? '').join('\n');
  return { isError: !!res.isError, text, value: res.structuredContent };
}

/** Calls a tool that must succeed; throws with its text otherwise. */
export async function ok(client: Client, name: string, args: Record<string, unknown> = {}, timeoutMs?: number): Promise<any> {
  const r = await call(client, name, args, timeoutMs);
  if (r.isError) throw new Error(`${name} failed: ${r.text}`);
  return r.value;
}
