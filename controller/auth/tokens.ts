import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Identity } from './identity.ts';

export const newToken = (): string => crypto.randomBytes(32).toString('base64url');
const digest = (token: string): Buffer => crypto.createHash('sha256').update(token, 'utf8').digest();
/** The hex SHA-256 of a token: what is stored of a named operator's token (never the token itself). */
export const tokenDigest = (token: string): string => digest(token).toString('hex');

/** Writes a token file with mode 0600 (one line), atomically, never readable by others even briefly. */
export function writeTokenFile(file: string, token: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, `${token}\n`, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

export function readTokenFile(file: string): string | null {
  try { return fs.readFileSync(file, 'utf8').trim() || null; } catch { return null; }
}

/**
 * Maps presented tokens to identities. Lookup is by SHA-256 digest, and the match is confirmed with
 * timingSafeEqual, so neither the map nor the comparison leaks how much of a token was right.
 */
export class TokenRegistry {
  private byDigest = new Map<string, { digest: Buffer; identity: Identity }>();

  add(token: string, identity: Identity): void {
    this.addDigest(tokenDigest(token), identity);
  }

  /** Registers a token known only by its hex SHA-256 (named operators' tokens are stored that way). */
  addDigest(hex: string, identity: Identity): void {
    this.removeIdentity(identity);
    this.byDigest.set(hex, { digest: Buffer.from(hex, 'hex'), identity });
  }

  removeIdentity(identity: Identity): void {
    for (const [k, v] of this.byDigest) if (v.identity.kind === identity.kind && v.identity.name === identity.name) this.byDigest.delete(k);
  }

  authenticate(token: string | null | undefined): Identity | null {
    if (!token) return null;
    const d = digest(token);
    const hit = this.byDigest.get(d.toString('hex'));
    if (!hit || !crypto.timingSafeEqual(hit.digest, d)) return null;
    return hit.identity;
  }
}

/** Extracts a bearer token from an Authorization header, or the password of HTTP Basic (git). */
export function tokenFromAuthorization(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^(\w+)\s+(.+)$/.exec(header.trim());
  if (!m) return null;
  const scheme = m[1]!.toLowerCase();
  if (scheme === 'bearer') return m[2]!.trim();
  if (scheme === 'basic') {
    const decoded = Buffer.from(m[2]!, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    return i >= 0 ? decoded.slice(i + 1) : null;
  }
  return null;
}
