import WebSocket from 'ws';
import { SUBPROTOCOL, type ServerMessage } from '../../web/terminal/protocol.ts';
import { waitFor } from './wait.ts';

// A terminal viewer in the test process: the real WebSocket protocol of /api/agents/:name/terminal,
// acknowledging output as it arrives (like xterm.js's write callbacks) unless told not to.

export interface TermClient {
  ws: WebSocket;
  /** Every control message, in order. */
  messages: ServerMessage[];
  /** All output so far, as text. */
  text(): string;
  bytes(): number;
  /** Output received since the last mark(). */
  since(mark: number): string;
  type(keys: string): void;
  control(m: Record<string, unknown>): void;
  /** Waits for output matching `re` after byte offset `from` (default: anywhere). */
  expect(re: RegExp, o?: { from?: number; timeoutMs?: number }): Promise<string>;
  message<T extends ServerMessage['type']>(type: T, timeoutMs?: number): Promise<Extract<ServerMessage, { type: T }>>;
  closed: Promise<{ code: number; reason: string }>;
  close(): Promise<void>;
}

export interface TermOptions {
  token?: string;
  cookie?: string;
  origin?: string;
  protocols?: string[];
  cols?: number;
  rows?: number;
  /** Acknowledge output (default true); false: a viewer that never catches up. */
  ack?: boolean;
  /** Keep at most this many bytes of text (a flood test keeps the tail only). */
  keep?: number;
}

/** Opens a viewer; resolves once the socket is open (or rejects with the refused HTTP status and body). */
export function openTerminal(baseUrl: string, agent: string, o: TermOptions = {}): Promise<TermClient> {
  const url = `${baseUrl.replace(/^http/, 'ws')}/api/agents/${encodeURIComponent(agent)}/terminal?cols=${o.cols ?? 80}&rows=${o.rows ?? 24}`;
  const headers: Record<string, string> = {};
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  if (o.cookie) headers.cookie = o.cookie;
  if (o.origin) headers.origin = o.origin;
  const ws = new WebSocket(url, o.protocols ?? [SUBPROTOCOL], { headers, perMessageDeflate: false });
  ws.binaryType = 'nodebuffer';
  const messages: ServerMessage[] = [];
  let out = '';
  let total = 0;
  let dropped = 0;
  let unacked = 0;
  let ackTimer: NodeJS.Timeout | null = null;
  const keep = o.keep ?? Infinity;
  ws.on('message', (data, isBinary) => {
    if (isBinary) {
      const b = data as Buffer;
      total += b.length;
      out += b.toString('utf8');
      if (out.length > keep) { dropped += out.length - keep; out = out.slice(-keep); }
      if (o.ack !== false) {
        unacked += b.length;
        ackTimer ??= setTimeout(() => { ackTimer = null; if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: 'ack', bytes: unacked })); unacked = 0; }, 1);
      }
    } else messages.push(JSON.parse(String(data)) as ServerMessage);
  });
  const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
  const client: TermClient = {
    ws, messages, closed,
    text: () => out,
    bytes: () => total,
    since: (mark) => out.slice(Math.max(0, mark - dropped)),
    type: (keys) => ws.send(Buffer.from(keys, 'utf8'), { binary: true }),
    control: (m) => ws.send(JSON.stringify(m)),
    async expect(re, eo = {}) {
      const from = eo.from ?? 0;
      return waitFor(`terminal output ${re}`, () => { const m = re.exec(out.slice(Math.max(0, from - dropped))); return m?.[0]; }, eo.timeoutMs ?? 30_000);
    },
    async message(type, timeoutMs = 30_000) {
      return waitFor(`a ${type} message`, () => messages.find((m) => m.type === type), timeoutMs) as never;
    },
    async close() { if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(); await closed; },
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(client));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString('utf8'); });
      res.on('end', () => reject(Object.assign(new Error(`HTTP ${res.statusCode}: ${body}`), { status: res.statusCode, body: body ? JSON.parse(body) : null })));
    });
    ws.once('error', (e) => reject(e));
  });
}

/** The refusal of an upgrade: its HTTP status and error body. */
export async function refusedWith(p: Promise<TermClient>): Promise<{ status: number; body: { error: { code: string; message: string } } }> {
  try { const c = await p; await c.close(); throw new Error('the upgrade was accepted'); } catch (e) {
    const x = e as { status?: number; body?: never };
    if (!x.status) throw e;
    return { status: x.status, body: x.body! };
  }
}
