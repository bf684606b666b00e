export type RuntimeKind = 'process' | 'nspawn' | 'fake';

/**
 * `building`: a revision is being prepared (checked out, or built by Nix) while the old one, if any,
 * runs on. `crashed`: the agent died and the runtime will not start it again by itself; the
 * reconciler applies again with its backoff.
 */
export type RuntimeState = 'none' | 'building' | 'starting' | 'running' | 'backoff' | 'stopped' | 'crashed';

export interface RuntimeStatus {
  /** What the agent's process is doing; never `building` (that is `building`, beside it: see shownState). */
  state: RuntimeState;
  /** The revision the agent runs (or last ran); not the one being built. */
  revision: string | null;
  /** The revision being prepared, while state is `building`. */
  building: string | null;
  pid: number | null;
  startedAt: number | null;
  restarts: number;
  lastExit: { code: number | null; signal: string | null; at: number } | null;
  isolated: boolean;
  note: string;
  /** Which backend runs it, where agents may run on different ones (hyperhive.json's `"runtime"`). */
  kind?: RuntimeKind;
}

/** A path as the agent sees it (`target`) and where it lives on the host (`source`). */
export interface Mount { source: string; target: string; readOnly: boolean }

/**
 * What a runtime needs to run an agent, in terms any backend can honour: mounts, environment, the
 * command, the controller's URL as the agent reaches it. Built by the controller; the backend never
 * reads the database. The Contract's environment (HYPERHIVE_*) is derived from it by `contractEnv`.
 */
export interface AgentSpec {
  name: string;
  /** The bare repo the revision's config is checked out of (prepare reads it). */
  repo: string;
  mounts: {
    /** The checkout of the applied revision: read-only for the agent. */
    config: Mount;
    /** The agent's writable state, kept across revisions. */
    state: Mount;
    /** The agent's token file, read-only. */
    token: Mount;
  };
  /** Environment beyond the Contract's (the agent CLI, the demo's scripts, the orphan timeout). */
  env: Record<string, string>;
  /** The controller's base URL as reachable from inside the agent's runtime. */
  controllerUrl: string;
  /** argv of the agent's command, as resolved inside the runtime. */
  command: string[];
  /** Give the agent a working clone at <state>/repo (origin = the controller, token read at use time). */
  workingClone: boolean;
}

/** A revision made ready to start: the backend's own handle, passed back to `activate` or `discard`. */
export interface Prepared {
  readonly name: string;
  readonly revision: string;
  readonly spec: AgentSpec;
}

export interface ExecOptions { cols: number; rows: number; env?: Record<string, string>; command?: string[] }

/** A PTY-like handle into the agent's environment (the terminal issue drives it). */
export interface PtyHandle {
  readonly pid: number | null;
  write(data: string | Uint8Array): void;
  resize(cols: number, rows: number): void;
  onData(fn: (chunk: Uint8Array) => void): () => void;
  onExit(fn: (e: { code: number | null; signal: string | null }) => void): () => void;
  pause(): void;
  resume(): void;
  kill(signal?: string): void;
  /**
   * True while the shell waits at its prompt (no program has the terminal's foreground): the terminal
   * then reads a line starting with `/` as a slash command. Absent: never (slash commands stay off).
   */
  atPrompt?(): boolean;
}

interface Ev<T extends string> { type: T; agent: string; revision: string | null; message: string }
/** What a runtime tells the controller, in the order it happens. */
export type RuntimeEvent =
  | Ev<'building'>
  | (Ev<'build-failed'> & { error: string; logTail: string })
  | Ev<'applied'>
  | (Ev<'started'> & { pid: number | null })
  | (Ev<'adopted'> & { pid: number })
  /** The agent's process ended by itself with status 0 (it will be started again). */
  | (Ev<'exited'> & { code: number | null; signal: string | null })
  /**
   * The agent's process died (status ≠ 0, a signal, a systemd result other than success, or it
   * could not start). `at`: when it was seen; `unit`/`result`: systemd's unit and Result, where
   * the agent runs as a unit (the ContainerCrash of the D-Bus watcher).
   */
  | (Ev<'crashed'> & { code: number | null; signal: string | null; at?: number; unit?: string; result?: string })
  | (Ev<'backoff'> & { delayMs: number; restarts: number })
  | Ev<'stopped'>
  /** Something worth the log that changes no state (a working clone not prepared, say). */
  | Ev<'warning'>;
export type RuntimeEventType = RuntimeEvent['type'];

/** How a runtime's watcher of agent events is doing (the nspawn runtime's D-Bus connection to systemd). */
export interface WatcherHealth {
  state: 'connecting' | 'connected' | 'disconnected' | 'closed';
  /** Where it watches (the bus address). */
  address: string;
  /** Since when it is in this state (ms since the epoch). */
  since: number;
  lastError: string | null;
  /** Connections made after the first one (each resubscribes and re-reads the agents' units). */
  reconnects: number;
  /** Unit signals received since start. */
  signals: number;
}

/** What the dashboard and `GET /api/runtime` show about the runtime as a whole. */
export interface RuntimeHealth {
  kind: RuntimeKind;
  isolated: boolean;
  /** The agents run as systemd transient units (watched over D-Bus) rather than as the controller's children. */
  systemd: boolean;
  note: string;
  /** null where nothing is watched (the controller's own children need no watcher). */
  watcher: WatcherHealth | null;
  /** Per-agent runtimes in use where hyperhive.json picks another than the default (`"runtime"`). */
  backends?: RuntimeHealth[];
}

/**
 * The contract every backend (process, nspawn, the fake) passes, checked by one conformance suite
 * (test/helpers/runtime-conformance.ts). `prepare` may be slow (a Nix build) and runs outside the
 * agent's queue slot, while the old revision keeps running; `activate` is fast: stop, swap, start.
 */
export interface Runtime {
  readonly kind: RuntimeKind;
  readonly isolated: boolean;
  prepare(spec: AgentSpec, revision: string): Promise<Prepared>;
  activate(p: Prepared): Promise<void>;
  /** Drops a prepared revision that will not be activated (applied moved on meanwhile). */
  discard(p: Prepared): Promise<void>;
  stop(name: string): Promise<void>;
  status(name: string): RuntimeStatus;
  /**
   * A PTY in the agent's environment, only while the agent runs (else HyperhiveError `conflict`); a
   * backend that cannot answers `not_supported` — never a host shell in place of the agent's. Every
   * PTY of an agent ends when the agent is stopped or another revision is activated.
   */
  exec(name: string, o: ExecOptions): Promise<PtyHandle>;
  /** Typed events; returns the unsubscribe function. */
  onEvent(fn: (e: RuntimeEvent) => void): () => void;
  /** Stops every agent (the controller is shutting down); a systemd-supervised backend lets them run on. */
  close(): Promise<void>;
  /** The runtime's own health (its watcher); absent: nothing to show beyond kind and isolation. */
  health?(): RuntimeHealth;
  /** Called when health() changes (the watcher lost or regained its bus); returns the unsubscribe function. */
  onHealth?(fn: (h: RuntimeHealth) => void): () => void;
}

export const noneStatus = (isolated: boolean, note: string): RuntimeStatus =>
  ({ state: 'none', revision: null, building: null, pid: null, startedAt: null, restarts: 0, lastExit: null, isolated, note });

/** The state operators see: `building` while a revision is prepared and nothing else is under way. */
export function shownState(s: Pick<RuntimeStatus, 'state' | 'building'>): RuntimeState {
  return s.building && (s.state === 'none' || s.state === 'running' || s.state === 'stopped') ? 'building' : s.state;
}

/** The Contract's environment for an agent, as its runtime shows the paths to it. */
export function contractEnv(spec: AgentSpec): Record<string, string> {
  return {
    HYPERHIVE_AGENT: spec.name,
    HYPERHIVE_URL: spec.controllerUrl,
    HYPERHIVE_TOKEN_FILE: spec.mounts.token.target,
    HYPERHIVE_CONFIG_DIR: spec.mounts.config.target,
    HYPERHIVE_STATE_DIR: spec.mounts.state.target,
  };
}
