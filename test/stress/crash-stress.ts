// The crash test, longer: `node --import tsx test/stress/crash-stress.ts --kills 500 [--per-round 25]
// [--agents 3] [--seed N] [--push-share 0.3]`. Outside CI. Rounds of --per-round kills, each on a fresh
// state dir (so the audit and hook logs stay small enough to check after every restart). Stops at
// the first broken invariant and prints the seed and the kept state dir.
import { runCrashRound, CrashViolation } from '../helpers/crash-scenario.ts';

function flag(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v < 0) { console.error(`--${name} needs a number, got ${JSON.stringify(process.argv[i + 1])}`); process.exit(2); }
  return v;
}

const kills = flag('kills', 500);
const perRound = Math.max(1, flag('per-round', 25));
const nAgents = Math.min(6, Math.max(1, flag('agents', 3)));
const pushShare = flag('push-share', 0.3);
let seed = flag('seed', (Math.random() * 2 ** 32) >>> 0);
const agents = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta'].slice(0, nAgents);

async function main(): Promise<number> {
  const t0 = Date.now();
  let done = 0; let rounds = 0; let approvals = 0; let proposals = 0;
  const notes = new Map<string, number>();
  console.log(`crash stress: ${kills} kills, ${perRound} per round, agents ${agents.join(',')}, first seed ${seed}`);
  while (done < kills) {
    const n = Math.min(perRound, kills - done);
    try {
      const s = await runCrashRound({ kills: n, agents, seed, pushShare, log: (l) => process.stdout.write(`  [round ${rounds + 1}] ${l}\n`) });
      done += s.kills; rounds += 1; approvals += s.approvalsSent; proposals += s.proposals;
      for (const note of s.notes) { const k = note.replace(/[0-9a-f]{7}/g, '…'); notes.set(k, (notes.get(k) ?? 0) + 1); }
      console.log(`round ${rounds} (seed ${seed}): ${s.kills} kills (${s.approveKills} after approve, ${s.applyKills} applying, ${s.startupKills} at startup), ${s.proposals} proposals, ${s.approvalsSent} approvals, ${Math.round(s.elapsedMs / 1000)} s; total ${done}/${kills}`);
    } catch (e) {
      console.error(e instanceof CrashViolation ? `INVARIANT BROKEN: ${e.message}` : `ERROR (seed ${seed}): ${(e as Error).stack}`);
      return 1;
    }
    seed = (seed + 1) >>> 0;
  }
  console.log(`crash stress passed: ${done} kills in ${rounds} rounds, ${proposals} proposals, ${approvals} approvals, ${Math.round((Date.now() - t0) / 1000)} s`);
  for (const [k, n] of notes) console.log(`  note ×${n}: ${k}`);
  return 0;
}

process.exitCode = await main();
