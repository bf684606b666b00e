// The command every runtime starts for an agent: `node --import tsx controller/harness/main.ts`.
import { pathToFileURL } from 'node:url';
import { runHarness } from './loop.ts';
import { httpHarnessIO, readToken } from './http-io.ts';
import { orphanTimeoutMs, probeHealth, watchOrphan } from './orphan.mjs';
import { killRunningClis } from './run-cli.ts';

export interface HarnessEnv {
  agent: string; url: string; tokenFile: string; configDir: string; stateDir: string;
  cli: string; cliArgs: string[]; hangMs?: number; orphanTimeoutMs: number;
  /** One long poll of a tool request ($HYPERHIVE_TOOL_POLL_MS; default 50 s). */
  toolPollMs?: number;
}

/** After an orphan exit is decided, how long the loop may take to wind down (the CLI gets SIGTERM, then SIGKILL after 5 s). */
const ORPHAN_EXIT_GRACE_MS = 10_000;

/** Reads the Contract's runtime environment; throws naming every missing variable. */
export function harnessEnv(env: NodeJS.ProcessEnv = process.env): HarnessEnv {
  const names = ['HYPERHIVE_AGENT', 'HYPERHIVE_URL', 'HYPERHIVE_TOKEN_FILE', 'HYPERHIVE_CONFIG_DIR', 'HYPERHIVE_STATE_DIR'] as const;
  const missing = names.filter((n) => !env[n]);
  if (missing.length) throw new Error(`harness: missing environment: ${missing.join(', ')}`);
  // HYPERHIVE_AGENT_CLI may carry arguments (`hyperhive scripted-agent`); split on blanks, no quoting.
  const [cli, ...cliArgs] = (env.HYPERHIVE_AGENT_CLI?.trim() || 'claude').split(/\s+/);
  const hang = Number(env.HYPERHIVE_HANG_MS);
  const poll = Number(env.HYPERHIVE_TOOL_POLL_MS);
  return {
    agent: env.HYPERHIVE_AGENT!, url: env.HYPERHIVE_URL!, tokenFile: env.HYPERHIVE_TOKEN_FILE!,
    configDir: env.HYPERHIVE_CONFIG_DIR!, stateDir: env.HYPERHIVE_STATE_DIR!, cli, cliArgs,
    hangMs: Number.isFinite(hang) && hang > 0 ? hang : undefined, orphanTimeoutMs: orphanTimeoutMs(env),
    toolPollMs: Number.isFinite(poll) && poll >= 0 ? poll : undefined,
  };
}

export async function harnessMain(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let cfg: HarnessEnv;
  try { cfg = harnessEnv(env); } catch (e) { console.error((e as Error).message); return 2; }
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  // A container's stub init halts by sending SIGTERM then SIGHUP at once: both stop the loop cleanly.
  process.once('SIGHUP', stop);
  const log = (line: string) => console.error(`[harness ${cfg.agent}] ${line}`);
  // Whatever ends this process, no CLI of a turn outlives it (each runs in a process group of its own).
  const reap = () => killRunningClis('SIGKILL');
  process.once('exit', reap);
  let orphaned: string | undefined;
  const watch = watchOrphan({
    timeoutMs: cfg.orphanTimeoutMs,
    paths: { 'token file': cfg.tokenFile, 'state dir': cfg.stateDir },
    probe: () => probeHealth(cfg.url),
    onOrphan(why) {
      orphaned = why;
      log(`exiting: ${why}`);
      ac.abort();
      // A call the loop awaits may not be abortable (a controller that accepts connections and never
      // answers): exit anyway once the grace is over; the 'exit' handler kills the turn's CLI.
      setTimeout(() => { log(`exiting now: the loop did not stop within ${ORPHAN_EXIT_GRACE_MS} ms`); process.exit(1); }, ORPHAN_EXIT_GRACE_MS).unref();
    },
  });
  const io = httpHarnessIO({ ...cfg, onAnswer: watch.seen });
  try {
    // Orphaned before the first turn (token file or state dir already gone): nothing to start.
    if (!orphaned) {
      await runHarness(io, {
        agent: cfg.agent, url: cfg.url, token: () => readToken(cfg.tokenFile), stateDir: cfg.stateDir,
        cli: cfg.cli, cliArgs: cfg.cliArgs, hangMs: cfg.hangMs, signal: ac.signal, log,
      });
    }
    return orphaned ? 1 : 0;
  } catch (e) {
    log(`stopped: ${(e as Error).message}`);
    return 1;
  } finally {
    watch.stop();
    await io.close();
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
    process.off('SIGHUP', stop);
    process.off('exit', reap);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await harnessMain();
}
