import path from 'node:path';

/** The state dir layout of DESIGN.md's Contract, in one place. */
export interface StatePaths {
  root: string;
  db: string;
  repos: string;
  agents: string;
  events: string;
  refEvents: string;
  operatorToken: string;
  /** The quorum rules (optional file). */
  policy: string;
  repo(name: string): string;
  agentDir(name: string): string;
  config(name: string): string;
  state(name: string): string;
  token(name: string): string;
}

export function resolveStateDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(flag ?? env.HYPERHIVE_STATE ?? './.hyperhive');
}

export function statePaths(root: string): StatePaths {
  const r = path.resolve(root);
  return {
    root: r,
    db: path.join(r, 'hyperhive.db'),
    repos: path.join(r, 'repos'),
    agents: path.join(r, 'agents'),
    events: path.join(r, 'events'),
    refEvents: path.join(r, 'events', 'refs.jsonl'),
    operatorToken: path.join(r, 'operator.token'),
    policy: path.join(r, 'policy.json'),
    repo: (n) => path.join(r, 'repos', `${n}.git`),
    agentDir: (n) => path.join(r, 'agents', n),
    config: (n) => path.join(r, 'agents', n, 'config'),
    state: (n) => path.join(r, 'agents', n, 'state'),
    token: (n) => path.join(r, 'agents', n, 'token'),
  };
}
