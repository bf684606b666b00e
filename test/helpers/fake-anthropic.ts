import http from 'node:http';
import type { AddressInfo } from 'node:net';

// A stand-in for the Anthropic Messages API on 127.0.0.1, so the real, pinned claude CLI reaches a
// tool call without credentials or network (ANTHROPIC_BASE_URL at it, any ANTHROPIC_API_KEY). The
// model's first answer to a turn is the scripted tool_use; once it sees a tool_result it answers with
// text quoting it, and the turn ends.

export interface FakeAnthropic {
  url: string;
  /** The tool_result blocks the CLI sent back, in order (what the tool did, or why it did not run). */
  results: { tool_use_id: string; content: unknown; is_error?: boolean }[];
  close(): Promise<void>;
}

const sse = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

export async function startFakeAnthropic(tool: { name: string; input: Record<string, unknown> }): Promise<FakeAnthropic> {
  const results: FakeAnthropic['results'] = [];
  let n = 0;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      if (!req.url?.startsWith('/v1/messages') || req.url.includes('count_tokens')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ input_tokens: 1 }));
        return;
      }
      let parsed: { model?: string; messages?: { content: unknown }[]; tools?: unknown[] } = {};
      try { parsed = JSON.parse(body); } catch { /* an empty request */ }
      const last = parsed.messages?.at(-1)?.content;
      const returned = Array.isArray(last) ? last.filter((b: any) => b?.type === 'tool_result') : [];
      for (const r of returned) results.push(r);
      const id = `msg_fake_${++n}`;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(sse('message_start', { type: 'message_start', message: { id, type: 'message', role: 'assistant', model: parsed.model ?? 'fake', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 1, output_tokens: 1 } } }));
      // Side requests of the CLI (titles, summaries) come without tools: plain text.
      if (!parsed.tools?.length || returned.length) {
        res.write(sse('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }));
        res.write(sse('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: returned.length ? `done: ${JSON.stringify(returned).slice(0, 300)}` : 'ok' } }));
        res.write(sse('content_block_stop', { type: 'content_block_stop', index: 0 }));
        res.write(sse('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 1 } }));
      } else {
        res.write(sse('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: `toolu_fake_${n}`, name: tool.name, input: {} } }));
        res.write(sse('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: JSON.stringify(tool.input) } }));
        res.write(sse('content_block_stop', { type: 'content_block_stop', index: 0 }));
        res.write(sse('message_delta', { type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 1 } }));
      }
      res.write(sse('message_stop', { type: 'message_stop' }));
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, results,
    close: () => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }),
  };
}
