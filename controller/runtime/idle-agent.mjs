// The built-in agent command until a harness is configured: logs the revision it runs and stays up,
// so a bare `hyperhive serve` shows its agents running. Plain JS: it starts in milliseconds.
import fs from 'node:fs';
import path from 'node:path';

const dir = process.env.HYPERHIVE_CONFIG_DIR ?? '.';
let revision = 'unknown';
try { revision = fs.readFileSync(path.join(dir, '.hyperhive-revision'), 'utf8').trim(); } catch {}
console.log(JSON.stringify({ ts: new Date().toISOString(), agent: process.env.HYPERHIVE_AGENT, msg: 'idle agent running', revision }));
const keep = setInterval(() => {}, 1 << 30);
const bye = () => { clearInterval(keep); console.log(JSON.stringify({ ts: new Date().toISOString(), msg: 'idle agent stopping', revision })); process.exit(0); };
process.on('SIGTERM', bye);
process.on('SIGINT', bye);
