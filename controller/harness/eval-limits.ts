import { HyperhiveError } from '../errors.ts';

/**
 * Bounds on every Nix evaluation of an agent's config (the controller's config check, the
 * harness's surface, the receive-time parse). Any agent's push triggers one without approval, and
 * an unbounded `builtins.genList (x: x*2) 500000000` took nix-instantiate past 3 GB in ~5 s.
 * Defaults (measured with nix 2.8): the template's evaluation takes ~20 ms and 25 MB resident, and
 * nix-instantiate does not start below ~96 MB of address space; 512 MB leaves 5x that, 30 s is over
 * 1000x the time; 2 at a time keeps a burst of pushes on a 2-core machine from starving the
 * controller, the rest wait their turn.
 */
export interface EvalLimits {
  /** Address space of the evaluating process (RLIMIT_AS), in MB. */
  maxMb: number;
  /** Wall-clock time of one evaluation (not counting its wait for a slot); then its process group is killed. */
  timeoutMs: number;
  /** Evaluations running at once in this process; more wait in a queue. */
  concurrency: number;
}

export const DEFAULT_EVAL_LIMITS: Readonly<EvalLimits> = { maxMb: 512, timeoutMs: 30_000, concurrency: 2 };

/**
 * The largest agent.nix or hyperhive.json, well below the general file limit (50 MB): the template's
 * are under 2 KB, and a 20 MB hyperhive.json was reported as "nix-instantiate exited with -1".
 */
export const DEFAULT_MAX_CONFIG_FILE_BYTES = 1024 * 1024;
/** The files the config-file limit applies to: the ones evaluated. */
export const EVALUATED_FILES = ['agent.nix', 'hyperhive.json'] as const;

const VARS = { maxMb: 'HYPERHIVE_EVAL_MAX_MB', timeoutMs: 'HYPERHIVE_EVAL_TIMEOUT_MS', concurrency: 'HYPERHIVE_EVAL_CONCURRENCY' } as const;
export const CONFIG_FILE_VAR = 'HYPERHIVE_MAX_CONFIG_FILE_BYTES';
/** Every variable above, for passing them on to a child that evaluates too (the receive hook). */
export const EVAL_ENV_VARS: readonly string[] = [...Object.values(VARS), CONFIG_FILE_VAR];

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw.trim());
  if (!/^[0-9]+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new HyperhiveError('bad_request', `${name} must be a positive whole number, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** The limits from HYPERHIVE_EVAL_MAX_MB, _TIMEOUT_MS and _CONCURRENCY; a value that is not a positive integer is refused naming it. */
export function evalLimitsFromEnv(env: NodeJS.ProcessEnv = process.env): EvalLimits {
  return {
    maxMb: positiveInt(env, VARS.maxMb, DEFAULT_EVAL_LIMITS.maxMb),
    timeoutMs: positiveInt(env, VARS.timeoutMs, DEFAULT_EVAL_LIMITS.timeoutMs),
    concurrency: positiveInt(env, VARS.concurrency, DEFAULT_EVAL_LIMITS.concurrency),
  };
}

export const maxConfigFileBytesFromEnv = (env: NodeJS.ProcessEnv = process.env): number => positiveInt(env, CONFIG_FILE_VAR, DEFAULT_MAX_CONFIG_FILE_BYTES);

/** Why `file` of `size` bytes is refused, or null within the limit. */
export function configFileProblem(file: string, size: number, limit: number): string | null {
  if (size <= limit) return null;
  return `${file} is ${size} bytes, over the ${limit}-byte limit for config files (agent.nix, hyperhive.json; ${CONFIG_FILE_VAR})`;
}

/** "30 s" for whole seconds, else "1500 ms". */
export const formatDuration = (ms: number): string => (ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`);
