// Typed errors with a literal `code`, mapped to HTTP status by the API and to exit codes by the CLI.
export type ErrorCode =
  | 'bad_request' | 'invalid_name' | 'reserved_name' | 'invalid_model' | 'invalid_json'
  | 'unauthorized' | 'forbidden'
  | 'not_found' | 'agent_not_found' | 'approval_not_found'
  | 'conflict' | 'agent_exists' | 'stale_approval' | 'not_pending' | 'ref_moved' | 'not_descendant'
  | 'not_supported' | 'too_large' | 'unprocessable' | 'rate_limited' | 'inbox_full' | 'git_failed' | 'internal';

const STATUS: Record<ErrorCode, number> = {
  bad_request: 400, invalid_name: 400, reserved_name: 400, invalid_model: 400, invalid_json: 400,
  unauthorized: 401, forbidden: 403,
  not_found: 404, agent_not_found: 404, approval_not_found: 404,
  conflict: 409, agent_exists: 409, stale_approval: 409, not_pending: 409, ref_moved: 409, not_descendant: 409,
  // The runtime or backend cannot do this (exec on a runtime without PTYs): a fact about this agent, not the request.
  not_supported: 409,
  too_large: 413, unprocessable: 422, rate_limited: 429, inbox_full: 409, git_failed: 500, internal: 500,
};

export class HyperhiveError extends Error {
  readonly code: ErrorCode;
  readonly data: Record<string, unknown>;
  constructor(code: ErrorCode, message: string, data: Record<string, unknown> = {}) {
    super(message);
    this.name = 'HyperhiveError';
    this.code = code;
    this.data = data;
  }
  get status(): number { return STATUS[this.code]; }
}

export const isHyperhiveError = (e: unknown): e is HyperhiveError => e instanceof HyperhiveError;
