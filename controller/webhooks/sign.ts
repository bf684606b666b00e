import crypto from 'node:crypto';

/**
 * The signature header value, as Flux's generic-hmac provider signs: `sha256=<hex HMAC-SHA256 of the
 * raw body>` keyed with the webhook's secret, so receivers written for Flux verify ours unchanged.
 */
export function signature(body: string | Buffer, secret: string): string {
  return `sha256=${crypto.createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** A receiver's check (constant time): the header matches the body under the secret. */
export function verifySignature(body: string | Buffer, secret: string, header: string | null | undefined): boolean {
  if (!header) return false;
  const want = Buffer.from(signature(body, secret));
  const got = Buffer.from(header.trim());
  return want.length === got.length && crypto.timingSafeEqual(want, got);
}
