import type { Readable, Writable } from 'node:stream';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { HyperhiveError } from '../errors.ts';
import { MCP_PATH } from './server.ts';

export interface StdioBridgeOptions {
  /** The controller's base URL, or the full /mcp endpoint. */
  url: string;
  token: string;
  stdin?: Readable;
  stdout?: Writable;
  /** Where the bridge's own problems go (never stdout: that is the protocol). */
  log?: (line: string) => void;
}

/** `http://host:port` or `http://host:port/mcp` → the /mcp endpoint URL. */
export function mcpEndpoint(url: string): URL {
  let u: URL;
  try { u = new URL(url); } catch { throw new HyperhiveError('bad_request', `--url must be an http(s) URL such as http://127.0.0.1:8000, got ${JSON.stringify(url)}`); }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new HyperhiveError('bad_request', `--url must be http or https, got ${u.protocol}`);
  if (!u.pathname.replace(/\/+$/, '').endsWith(MCP_PATH)) u.pathname = `${u.pathname.replace(/\/+$/, '')}${MCP_PATH}`;
  return u;
}

const isRequest = (m: JSONRPCMessage): m is JSONRPCMessage & { id: string | number; method: string } => 'method' in m && 'id' in m && m.id !== undefined;

/**
 * A stdio MCP server that forwards every JSON-RPC message, unchanged, to the controller's /mcp and
 * back: the stdio client talks to the real server (same tools, same identity from the token).
 * Resolves when stdin closes.
 */
export async function runStdioBridge(o: StdioBridgeOptions): Promise<void> {
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const stdio = new StdioServerTransport(o.stdin, o.stdout);
  const http = new StreamableHTTPClientTransport(mcpEndpoint(o.url), { requestInit: { headers: { authorization: `Bearer ${o.token}` } } });
  const initIds = new Set<string | number>();
  let closing = false;
  const done = new Promise<void>((resolve) => {
    stdio.onclose = () => { closing = true; void http.close().catch(() => {}); resolve(); };
  });

  http.onmessage = (m) => {
    // The HTTP transport must send the negotiated protocol version on every later request.
    if ('id' in m && m.id !== undefined && initIds.delete(m.id) && 'result' in m) {
      const v = (m.result as { protocolVersion?: unknown }).protocolVersion;
      if (typeof v === 'string') http.setProtocolVersion(v);
    }
    void stdio.send(m).catch((e) => log(`mcp-stdio: cannot write to stdout: ${(e as Error).message}`));
  };
  http.onerror = (e) => { if (!closing) log(`mcp-stdio: ${e.message}`); };
  stdio.onerror = (e) => log(`mcp-stdio: bad input on stdin: ${e.message}`);
  stdio.onmessage = (m) => {
    if (isRequest(m) && m.method === 'initialize') initIds.add(m.id);
    http.send(m).catch((e: Error) => {
      // Answer the request the controller could not, so the client is not left waiting.
      if (isRequest(m)) {
        void stdio.send({ jsonrpc: '2.0', id: m.id, error: { code: -32000, message: `hyperhive controller unreachable or refused the request: ${e.message}` } }).catch(() => {});
      }
    });
  };
  await http.start();
  await stdio.start();
  await done;
}
