import type { EventEmitter } from 'node:events';

export type RuntimeState = 'none' | 'starting' | 'running' | 'backoff' | 'stopped' | 'crashed';

export interface RuntimeStatus {
  state: RuntimeState;
  revision: string | null;
  pid: number | null;
  startedAt: number | null;
  restarts: number;
  lastExit: { code: number | null; signal: string | null; at: number } | null;
  isolated: boolean;
  note: string;
}

/** What a runtime needs to start an agent; the controller builds it, the backend never reads the db. */
export interface AgentSpec {
  name: string;
  repo: string;
  configDir: string;
  stateDir: string;
  tokenFile: string;
  controllerUrl: string;
  /** argv of the agent's command; the runtime adds the Contract's environment. */
  command: string[];
  env?: Record<string, string>;
  /** Prepare the agent's working clone at <stateDir>/repo (origin = the controller, credential helper). */
  prepareClone?: boolean;
}

export interface RuntimeEvent {
  agent: string;
  type: 'started' | 'exited' | 'stopped' | 'backoff' | 'applied' | 'adopted';
  revision: string | null;
  message: string;
  data?: Record<string, unknown>;
}

/**
 * One interface for every backend (process, later nspawn): apply a revision, start, stop, status, events.
 * `apply` checks the revision out and (re)starts the agent on it; it resolves once the agent is started.
 */
export interface Runtime extends EventEmitter {
  readonly kind: string;
  readonly isolated: boolean;
  apply(spec: AgentSpec, revision: string): Promise<void>;
  stop(name: string): Promise<void>;
  status(name: string): RuntimeStatus;
  close(): Promise<void>;
}

export const noneStatus = (isolated: boolean, note: string): RuntimeStatus =>
  ({ state: 'none', revision: null, pid: null, startedAt: null, restarts: 0, lastExit: null, isolated, note });
