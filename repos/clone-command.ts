// `hyperhive clone NAME [DIR]`: an operator's clone of an agent's repo, with origin at the
// controller and the operator token read from its file by the credential helper.
import fs from 'node:fs';
import path from 'node:path';
import { HyperhiveError } from '../controller/errors.ts';
import { assertAgentName } from '../controller/names.ts';
import { gitRemoteUrl, setupClone, type CloneResult } from './agent-clone.ts';

export interface CloneCommandOptions {
  /** The controller's base URL. */
  url: string;
  /** The operator token file (<state>/operator.token). */
  tokenFile: string;
  agent: string;
  /** Target directory; default ./<agent>, like git clone. */
  dir?: string;
}

export async function cloneCommand(opts: CloneCommandOptions): Promise<CloneResult> {
  assertAgentName(opts.agent);
  const dir = path.resolve(opts.dir ?? opts.agent);
  if (fs.existsSync(dir) && (!fs.statSync(dir).isDirectory() || fs.readdirSync(dir).length > 0)) {
    throw new HyperhiveError('conflict', `destination ${dir} already exists and is not an empty directory`, { dir });
  }
  if (!fs.existsSync(opts.tokenFile)) throw new HyperhiveError('unauthorized', `token file ${opts.tokenFile} not found`);
  const existed = fs.existsSync(dir);
  try {
    // The operator commits as themselves: their own user.name/email stay in effect.
    return await setupClone({ dir, remote: gitRemoteUrl(opts.url, opts.agent), username: 'operator', tokenFile: path.resolve(opts.tokenFile) });
  } catch (e) {
    // Like git clone: a failed clone leaves no half-made directory behind.
    if (existed) for (const n of fs.readdirSync(dir)) fs.rmSync(path.join(dir, n), { recursive: true, force: true });
    else fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
