// The command every runtime starts for an agent: `node --import tsx controller/harness/main.ts`.
import { pathToFileURL } from 'node:url';
import { runHarness } from './loop.ts';
import { httpHarnessIO, readToken } from './http-io.ts';

export interface HarnessEnv {
  agent: string; url: string; tokenFile: string; configDir: string; stateDir: string;
  cli: string; cliArgs: string[]; hangMs?: number;
}

/** Reads the Contract's runtime environment; throws naming every missing variable. */
export function harnessEnv(env: NodeJS.ProcessEnv = process.env): HarnessEnv {
  const names = ['HYPERHIVE_AGENT', 'HYPERHIVE_URL', 'HYPERHIVE_TOKEN_FILE', 'HYPERHIVE_CONFIG_DIR', 'HYPERHIVE_STATE_DIR'] as const;
  const missing = names.filter((n) => !env[n]);
  if (missing.length) throw new Error(`harness: missing environment: ${missing.join(', ')}`);
  // HYPERHIVE_AGENT_CLI may carry arguments (`hyperhive scripted-agent`); split on blanks, no quoting.
  const [cli, ...cliArgs] = (env.HYPERHIVE_AGENT_CLI?.trim() || 'claude').split(/\s+/);
  const hang = Number(env.HYPERHIVE_HANG_MS);
  return {
    agent: env.HYPERHIVE_AGENT!, url: env.HYPERHIVE_URL!, tokenFile: env.HYPERHIVE_TOKEN_FILE!,
    configDir: env.HYPERHIVE_CONFIG_DIR!, stateDir: env.HYPERHIVE_STATE_DIR!, cli, cliArgs,
    hangMs: Number.isFinite(hang) && hang > 0 ? hang : undefined,
  };
}

export async function harnessMain(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let cfg: HarnessEnv;
  try { cfg = harnessEnv(env); } catch (e) { console.error((e as Error).message); return 2; }
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const io = httpHarnessIO(cfg);
  const log = (line: string) => console.error(`[harness ${cfg.agent}] ${line}`);
  try {
    await runHarness(io, {
      agent: cfg.agent, url: cfg.url, token: () => readToken(cfg.tokenFile), stateDir: cfg.stateDir,
      cli: cfg.cli, cliArgs: cfg.cliArgs, hangMs: cfg.hangMs, signal: ac.signal, log,
    });
    return 0;
  } catch (e) {
    log(`stopped: ${(e as Error).message}`);
    return 1;
  } finally {
    await io.close();
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await harnessMain();
}
