import fs from 'node:fs';
import path from 'node:path';
import { setupClone, gitRemoteUrl } from '../../repos/agent-clone.ts';
import { configureCredentialHelper } from '../../repos/credential-helper.ts';
import { identityFor } from '../../repos/identity.ts';
import { chownTree } from './rootfs.ts';
import type { AgentSpec } from './types.ts';

export interface WorkingCloneOptions {
  /** Give the clone to this uid (a container's root) before it appears: the agent must be able to write it. */
  owner?: number | null;
}

/**
 * The agent commits with plain git: a clone at <state>/repo whose origin is the controller, the token
 * read at use time from the path the agent sees. Made once, built beside its place and renamed in, so
 * the agent never sees a half-configured one; resolves to false when it already existed. It is made
 * here, outside the agent's runtime: the first fetch reads the token where the host has it, then the
 * credential helper is pointed at the token's path inside (they differ in a container).
 */
export async function ensureWorkingClone(spec: AgentSpec, o: WorkingCloneOptions = {}): Promise<boolean> {
  const dir = path.join(spec.mounts.state.source, 'repo');
  if (fs.existsSync(path.join(dir, '.git'))) return false;
  const tmp = path.join(spec.mounts.state.source, `.repo-tmp-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  try {
    const { token } = spec.mounts;
    await setupClone({ dir: tmp, remote: gitRemoteUrl(spec.controllerUrl, spec.name), username: spec.name, tokenFile: token.source, identity: identityFor(spec.name) });
    if (token.target !== token.source) await configureCredentialHelper(tmp, spec.name, token.target);
    if (o.owner !== undefined && o.owner !== null) chownTree(tmp, o.owner);
    if (fs.existsSync(dir)) return false;
    fs.renameSync(tmp, dir);
    return true;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
