import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type Koa from 'koa';

// Browser assets come from this repo (web/assets) and from installed npm packages, never a CDN:
// operators are often offline. Everything is read once at startup and served from memory.

const require = createRequire(import.meta.url);
const ASSETS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'assets');

/** URL path under /vendor/ → module path resolved from node_modules. */
export const VENDOR_FILES: Record<string, string> = {
  'diff2html.min.css': 'diff2html/bundles/css/diff2html.min.css',
  'uPlot.min.css': 'uplot/dist/uPlot.min.css',
  'uPlot.iife.min.js': 'uplot/dist/uPlot.iife.min.js',
  'xterm.css': '@xterm/xterm/css/xterm.css',
  'xterm.js': '@xterm/xterm/lib/xterm.js',
  'addon-fit.js': '@xterm/addon-fit/lib/addon-fit.js',
};

const TYPES: Record<string, string> = {
  '.css': 'text/css; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.svg': 'image/svg+xml',
  '.png': 'image/png', '.ico': 'image/x-icon', '.woff2': 'font/woff2', '.json': 'application/json; charset=utf-8',
};

interface Asset { body: Buffer; type: string; etag: string }

function load(file: string): Asset {
  const body = fs.readFileSync(file);
  return { body, type: TYPES[path.extname(file)] ?? 'application/octet-stream', etag: `"${crypto.createHash('sha1').update(body).digest('base64url')}"` };
}

/** Loads own assets and the vendor files that are installed; a missing optional package is skipped. */
export function loadAssets(assetsDir: string = ASSETS_DIR): Map<string, Asset> {
  const m = new Map<string, Asset>();
  if (fs.existsSync(assetsDir)) {
    for (const name of fs.readdirSync(assetsDir)) {
      const f = path.join(assetsDir, name);
      if (fs.statSync(f).isFile() && TYPES[path.extname(name)]) m.set(`/assets/${name}`, load(f));
    }
  }
  for (const [name, mod] of Object.entries(VENDOR_FILES)) {
    try { m.set(`/vendor/${name}`, load(require.resolve(mod))); } catch { /* package not installed */ }
  }
  return m;
}

/** Serves GET/HEAD of /assets/* and /vendor/*: a fixed map, so no request path ever reaches the file system. */
export function staticAssets(assets: Map<string, Asset> = loadAssets()): Koa.Middleware {
  return async (ctx, next) => {
    if ((ctx.method !== 'GET' && ctx.method !== 'HEAD') || !(ctx.path.startsWith('/assets/') || ctx.path.startsWith('/vendor/'))) return next();
    const a = assets.get(ctx.path);
    if (!a) { ctx.status = 404; ctx.body = { error: { code: 'not_found', message: `no asset ${ctx.path}` } }; return; }
    ctx.set('ETag', a.etag);
    ctx.set('Cache-Control', 'no-cache');
    ctx.type = a.type;
    if (ctx.get('if-none-match') === a.etag) { ctx.status = 304; return; }
    ctx.body = a.body;
  };
}

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
  "font-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
].join('; ');

/** Headers for every response: no inline scripts, no framing, no sniffing, no referrer leaks. */
export function securityHeaders(): Koa.Middleware {
  return async (ctx, next) => {
    ctx.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('Cross-Origin-Opener-Policy', 'same-origin');
    await next();
  };
}
