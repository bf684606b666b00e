import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

// A webhook receiver on 127.0.0.1 that checks signatures the way a receiver written for Flux's
// generic-hmac provider does (its own HMAC, not hyperhive's code), records what came, and answers
// with the status the test sets.

export interface Received { event: string; body: any; raw: string; signature: string | null; valid: boolean; headers: http.IncomingHttpHeaders }

export interface Receiver {
  url: string;
  got: Received[];
  /** The status the next requests are answered with (default 200). */
  status: number;
  location?: string;
  close(): Promise<void>;
}

export async function startReceiver(secret: string): Promise<Receiver> {
  const r: Receiver = { url: '', got: [], status: 200, close: async () => {} };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const signature = (req.headers['x-signature'] as string | undefined) ?? null;
      const want = `sha256=${crypto.createHmac('sha256', secret).update(raw).digest('hex')}`;
      let body: unknown = null;
      try { body = JSON.parse(raw); } catch { /* recorded raw */ }
      r.got.push({ event: (body as { event?: string })?.event ?? '', body, raw, signature, valid: signature === want, headers: req.headers });
      res.writeHead(r.status, r.location ? { location: r.location } : {});
      res.end(r.status >= 400 ? 'receiver says no' : 'ok');
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  r.close = () => new Promise<void>((ok) => { server.close(() => ok()); server.closeAllConnections(); });
  return r;
}
