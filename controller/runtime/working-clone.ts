import fs from 'node:fs';
import path from 'node:path';
import { setupClone, gitRemoteUrl } from '../../repos/agent-clone.ts';
import { identityFor } from '../../repos/identity.ts';
import type { AgentSpec } from './types.ts';

/**
 * The agent commits with plain git: a clone at <state>/repo whose origin is the controller, the token
 * read at use time from the path the agent sees. Made once, built beside its place and renamed in, so
 * the agent never sees a half-configured one; resolves to false when it already existed.
 */
export async function ensureWorkingClone(spec: AgentSpec): Promise<boolean> {
  const dir = path.join(spec.mounts.state.source, 'repo');
  if (fs.existsSync(path.join(dir, '.git'))) return false;
  const tmp = path.join(spec.mounts.state.source, `.repo-tmp-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  try {
    await setupClone({ dir: tmp, remote: gitRemoteUrl(spec.controllerUrl, spec.name), username: spec.name, tokenFile: spec.mounts.token.target, identity: identityFor(spec.name) });
    if (fs.existsSync(dir)) return false;
    fs.renameSync(tmp, dir);
    return true;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
