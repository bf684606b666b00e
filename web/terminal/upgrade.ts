import http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { Identity } from '../../controller/auth/identity.ts';
import { tokenFromAuthorization } from '../../controller/auth/index.ts';
import { safeEqual, SESSION_COOKIE, type SessionStore } from '../session.ts';
import type { TerminalManager } from './manager.ts';
import { CSRF_PROTOCOL_PREFIX, SUBPROTOCOL, sizeParam } from './protocol.ts';

export interface TerminalUpgradeDeps {
  manager: TerminalManager;
  authenticate: (token: string | null | undefined) => Identity | null;
  sessions: SessionStore;
}

const ROUTE = /^\/api\/agents\/([^/]+)\/terminal$/;

/** An HTTP answer on the raw socket: a refused upgrade never becomes a WebSocket. */
function refuse(socket: Duplex, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

function cookie(header: string | undefined, name: string): string | null {
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return null;
}

/**
 * Who may open the terminal, decided before any WebSocket exists: an operator's bearer token, or the
 * UI's session cookie with its CSRF token (offered as the subprotocol `hyperhive.csrf.<token>`, since
 * a browser cannot set headers on a WebSocket), and in either case an Origin, when sent, of this very
 * host. Agents' tokens are refused. Returns the identity, or the refusal.
 */
export function authorizeUpgrade(req: http.IncomingMessage, d: Pick<TerminalUpgradeDeps, 'authenticate' | 'sessions'>): Identity | { status: number; code: string; message: string } {
  const origin = req.headers.origin;
  if (origin !== undefined) {
    let host: string | null = null;
    try { host = new URL(origin).host; } catch { /* "null" or garbage */ }
    if (host === null || host !== req.headers.host) return { status: 403, code: 'forbidden', message: `cross-origin terminal refused: Origin ${JSON.stringify(origin.slice(0, 100))} is not this server` };
  }
  const bearer = tokenFromAuthorization(req.headers.authorization);
  if (bearer) {
    const id = d.authenticate(bearer);
    if (!id) return { status: 401, code: 'unauthorized', message: 'that token is not valid here' };
    if (id.kind !== 'operator') return { status: 403, code: 'forbidden', message: `agent ${id.name} may not open terminals` };
    return id;
  }
  const session = d.sessions.get(cookie(req.headers.cookie, SESSION_COOKIE));
  if (!session) return { status: 401, code: 'unauthorized', message: 'authentication required: log in (session cookie) or send `Authorization: Bearer <operator token>`' };
  // A cookie rides along with any page's request: only a page that could read the CSRF token (ours) may use it.
  if (origin === undefined) return { status: 403, code: 'forbidden', message: 'a terminal opened with the session cookie must come from the page (no Origin header)' };
  const offered = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
  const csrf = offered.find((p) => p.startsWith(CSRF_PROTOCOL_PREFIX))?.slice(CSRF_PROTOCOL_PREFIX.length);
  if (!csrf) return { status: 403, code: 'forbidden', message: `missing CSRF token: offer the subprotocol ${CSRF_PROTOCOL_PREFIX}<token> (the page's csrf-token)` };
  if (!safeEqual(csrf, session.csrf)) return { status: 403, code: 'forbidden', message: 'wrong CSRF token for this session; reload the page' };
  return session.identity;
}

/** The server's `upgrade` listener for `/api/agents/:name/terminal`; any other upgrade is answered 404. */
export function terminalUpgrade(d: TerminalUpgradeDeps): (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void {
  const wss = new WebSocketServer({
    noServer: true, perMessageDeflate: false, maxPayload: 1024 * 1024,
    handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  });
  return (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://localhost');
    const m = ROUTE.exec(url.pathname);
    if (!m) { refuse(socket, 404, 'not_found', `no WebSocket at ${url.pathname}`); return; }
    const who = authorizeUpgrade(req, d);
    if ('status' in who) { refuse(socket, who.status, who.code, who.message); return; }
    const offered = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    if (!offered.includes(SUBPROTOCOL)) { refuse(socket, 400, 'bad_request', `offer the WebSocket subprotocol ${SUBPROTOCOL}`); return; }
    let agent: string;
    try { agent = decodeURIComponent(m[1]!); } catch { refuse(socket, 400, 'bad_request', 'the agent name is not valid URL encoding'); return; }
    const size = { cols: sizeParam(url.searchParams.get('cols'), 80), rows: sizeParam(url.searchParams.get('rows'), 24) };
    wss.handleUpgrade(req, socket, head, (ws) => { void d.manager.open(ws, agent, who, size); });
  };
}
