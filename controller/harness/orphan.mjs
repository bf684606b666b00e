// The orphan watchdog: an agent process exits once its controller has been unreachable for
// HYPERHIVE_ORPHAN_TIMEOUT_MS, or once its token file or state dir is gone. A controller killed with
// SIGKILL leaves its agents running (they have process groups of their own, so that a restarted
// controller can adopt them); without this they would run, and hold memory, forever.
// Plain JS (types in orphan.d.mts): the built-in idle agent imports it and must start without tsx.
import fs from 'node:fs';
import path from 'node:path';

export const ORPHAN_TIMEOUT_VAR = 'HYPERHIVE_ORPHAN_TIMEOUT_MS';
export const DEFAULT_ORPHAN_TIMEOUT_MS = 600_000;

/** The environment's orphan timeout in ms (default 10 min); anything but a positive whole number throws naming the variable. */
export function orphanTimeoutMs(env = process.env) {
  const raw = env[ORPHAN_TIMEOUT_VAR];
  if (raw === undefined || raw === '') return DEFAULT_ORPHAN_TIMEOUT_MS;
  const n = Number(raw);
  if (!/^[0-9]+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new Error(`${ORPHAN_TIMEOUT_VAR} must be a positive whole number of milliseconds, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** @type {import('./orphan.d.mts').OrphanClock} */
export const realClock = {
  now: () => Date.now(),
  every(ms, fn) { const t = setInterval(fn, ms); t.unref(); return () => clearInterval(t); },
};

/** True when `<url>/api/health` answers 200 within timeoutMs (it needs no token). */
export async function probeHealth(url, timeoutMs = 10_000) {
  try {
    const res = await fetch(`${url.replace(/\/+$/, '')}/api/health`, { signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel().catch(() => {});
    return res.status === 200;
  } catch { return false; }
}

/** fs.watch on each path's directory: a deletion there is seen at once, not at the next periodic check. */
function watchParents(paths, onEvent) {
  const closers = [];
  for (const dir of new Set(paths.map((p) => path.dirname(p)))) {
    try {
      const w = fs.watch(dir, { persistent: false }, () => onEvent());
      // The directory itself going away ends the watch with an error: the periodic check still runs.
      w.on('error', () => { onEvent(); w.close(); });
      closers.push(() => w.close());
    } catch { /* already gone: the first check says so */ }
  }
  return () => { for (const c of closers) c(); };
}

/**
 * Starts the watchdog. `seen()` records an answer from the controller (any MCP or HTTP reply); with
 * none for probeEveryMs it asks /api/health itself (through `probe`), so a long turn or a long recv
 * does not look like an outage, and with none for timeoutMs it calls onOrphan once, with the reason.
 * @param {import('./orphan.d.mts').OrphanWatchOptions} o
 * @returns {import('./orphan.d.mts').OrphanWatch}
 */
export function watchOrphan(o) {
  const clock = o.clock ?? realClock;
  const exists = o.exists ?? ((p) => fs.existsSync(p));
  // Short timeouts (tests) need checks well inside the window; long ones need no more than every 2 s / 30 s.
  const checkEveryMs = o.checkEveryMs ?? Math.max(50, Math.min(2_000, Math.floor(o.timeoutMs / 4)));
  const probeEveryMs = o.probeEveryMs ?? Math.max(50, Math.min(30_000, Math.floor(o.timeoutMs / 4)));
  const entries = Object.entries(o.paths).filter(([, p]) => !!p);
  let lastSeen = clock.now();
  let probing = false;
  let fired = false;
  let stopTimer = () => {};
  let stopWatch = () => {};

  function fire(reason) {
    if (fired) return;
    fired = true;
    stop();
    o.onOrphan(reason);
  }
  function checkPaths() {
    for (const [label, p] of entries) if (!exists(p)) { fire(`${label} ${p} is gone`); return; }
  }
  function check() {
    if (fired) return;
    checkPaths();
    if (fired) return;
    const silent = clock.now() - lastSeen;
    if (silent >= o.timeoutMs) { fire(`no answer from the controller for ${silent} ms (${ORPHAN_TIMEOUT_VAR}=${o.timeoutMs})`); return; }
    if (silent >= probeEveryMs && !probing && o.probe) {
      probing = true;
      o.probe().then((ok) => { if (ok) seen(); }, () => {}).finally(() => { probing = false; });
    }
  }
  function seen() { if (!fired) lastSeen = clock.now(); }
  function stop() { stopTimer(); stopWatch(); stopTimer = stopWatch = () => {}; }

  stopTimer = clock.every(checkEveryMs, check);
  if (o.watch !== false) stopWatch = (o.watch ?? watchParents)(entries.map(([, p]) => p), checkPaths);
  checkPaths();
  return { seen, check, stop, get fired() { return fired; } };
}
