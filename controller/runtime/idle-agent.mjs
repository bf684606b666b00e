// The built-in agent command until a harness is configured: logs the revision it runs and stays up,
// so a bare `hyperhive serve` shows its agents running. Plain JS: it starts in milliseconds.
// Like the harness, it exits once its controller is unreachable for HYPERHIVE_ORPHAN_TIMEOUT_MS or its
// token file or state dir is gone (../harness/orphan.mjs).
import fs from 'node:fs';
import path from 'node:path';
import { orphanTimeoutMs, probeHealth, watchOrphan } from '../harness/orphan.mjs';

const dir = process.env.HYPERHIVE_CONFIG_DIR ?? '.';
let revision = 'unknown';
try { revision = fs.readFileSync(path.join(dir, '.hyperhive-revision'), 'utf8').trim(); } catch {}
const say = (o) => console.log(JSON.stringify({ ts: new Date().toISOString(), agent: process.env.HYPERHIVE_AGENT, ...o, revision }));
let timeoutMs;
try { timeoutMs = orphanTimeoutMs(); } catch (e) { say({ msg: `idle agent not started: ${e.message}` }); process.exit(2); }
say({ msg: 'idle agent running' });
const keep = setInterval(() => {}, 1 << 30);
const url = process.env.HYPERHIVE_URL;
const watch = watchOrphan({
  timeoutMs,
  paths: { 'token file': process.env.HYPERHIVE_TOKEN_FILE, 'state dir': process.env.HYPERHIVE_STATE_DIR },
  probe: url ? () => probeHealth(url) : undefined,
  onOrphan: (why) => { clearInterval(keep); say({ msg: `idle agent exiting: ${why}` }); process.exit(1); },
});
const bye = () => { watch.stop(); clearInterval(keep); say({ msg: 'idle agent stopping' }); process.exit(0); };
process.on('SIGTERM', bye);
process.on('SIGINT', bye);
// A container's stub init halts with SIGTERM then SIGHUP at once.
process.on('SIGHUP', bye);
