// Types of orphan.mjs (plain JS so that the idle agent imports it without tsx).

export declare const ORPHAN_TIMEOUT_VAR: 'HYPERHIVE_ORPHAN_TIMEOUT_MS';
export declare const DEFAULT_ORPHAN_TIMEOUT_MS: number;

export interface OrphanClock {
  now(): number;
  /** Calls fn every ms until the returned function is called. */
  every(ms: number, fn: () => void): () => void;
}

export interface OrphanWatchOptions {
  /** No answer from the controller for this long → orphaned. */
  timeoutMs: number;
  /** Paths whose disappearance means the agent is gone, by label (e.g. `token file`); empty values are skipped. */
  paths: Record<string, string | undefined>;
  /** Asks the controller whether it answers (GET /api/health); absent: only seen() counts. */
  probe?: () => Promise<boolean>;
  onOrphan(reason: string): void;
  /** How often the paths and the deadline are checked (default: a quarter of the timeout, at most 2 s). */
  checkEveryMs?: number;
  /** Silence after which probe() is asked (default: a quarter of the timeout, at most 30 s). */
  probeEveryMs?: number;
  clock?: OrphanClock;
  exists?: (path: string) => boolean;
  /** Watches the paths for changes, calling onEvent; false: no watcher. Default: fs.watch on their directories. */
  watch?: false | ((paths: string[], onEvent: () => void) => () => void);
}

export interface OrphanWatch {
  /** An answer from the controller came. */
  seen(): void;
  /** One check now (also done every checkEveryMs). */
  check(): void;
  stop(): void;
  readonly fired: boolean;
}

export declare function orphanTimeoutMs(env?: NodeJS.ProcessEnv): number;
export declare const realClock: OrphanClock;
export declare function probeHealth(url: string, timeoutMs?: number): Promise<boolean>;
export declare function watchOrphan(o: OrphanWatchOptions): OrphanWatch;
