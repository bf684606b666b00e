import crypto from 'node:crypto';
import type { Identity } from '../auth/index.ts';
import { HyperhiveError } from '../errors.ts';
import { assertCan } from '../lifecycle.ts';
import { commitFiles } from '../../repos/commit.ts';
import { identityFor } from '../../repos/identity.ts';
import { listTree } from '../../repos/read.ts';
import { readRefs } from '../../repos/refs.ts';
import { checkUpdate, type UpdateFacts } from '../../repos/receive.ts';
import { short, type OpDeps } from './deps.ts';

const CHECKED_CONTENTS = ['agent.nix', 'hyperhive.json'];
const blobSha = (content: Buffer): string => crypto.createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');

/**
 * Commits `files` (null deletes) on top of the agent's `proposed` as `who`, under the receive rules a
 * push would meet (minus the agent.nix parse: the reconciler's evaluation catches that before
 * approval), then waits for the reconcile. Returns the new commit.
 */
export async function proposeFiles(d: OpDeps, name: string, files: Record<string, string | null>, message: string, who: Identity): Promise<string> {
  assertCan(d.requireAgent(name), 'propose');
  const repo = d.repo(name);
  const entries = Object.entries(files);
  const commit = await d.exclusive(name, async () => {
    const { proposed } = await readRefs(repo);
    if (!proposed) throw new HyperhiveError('conflict', `agent ${name} has no proposed branch; an operator can restore it with \`hyperhive repair ${name}\``);
    const existing = new Map((await listTree(repo, proposed)).map((f) => [f.path, f.sha]));
    const changes: UpdateFacts['changes'] = [];
    const contents: Record<string, string> = {};
    for (const [p, content] of entries) {
      if (content === null) {
        if (!existing.has(p)) throw new HyperhiveError('not_found', `files: cannot delete ${p}: it is not in ${name}'s proposed (${short(proposed)})`, { field: 'files' });
        changes.push({ path: p, status: 'D' });
      } else {
        const old = existing.get(p);
        if (old === blobSha(Buffer.from(content, 'utf8'))) continue;
        changes.push({ path: p, status: old ? 'M' : 'A' });
        if (CHECKED_CONTENTS.includes(p)) contents[p] = content;
      }
    }
    if (changes.length === 0) throw new HyperhiveError('conflict', `files: nothing changes: every file already has that content on ${name}'s proposed (${short(proposed)})`, { field: 'files' });
    const pusher = { kind: who.kind === 'operator' ? 'operator' as const : 'agent' as const, name: who.name };
    const { reasons } = checkUpdate(pusher, name, 'proposed', { ref: 'refs/heads/proposed', old: proposed, new: proposed }, { fastForward: true, changes, contents, oversized: [] });
    if (reasons.length) throw new HyperhiveError('bad_request', `files: ${reasons.join('; ')}`, { field: 'files' });
    const sha = await commitFiles(repo, { branch: 'proposed', files, message, author: identityFor(who.name), expectedOld: proposed, pusher: who.name });
    d.log.info(name, 'proposed', `change ${short(sha)} proposed by ${who.name} (${changes.map((x) => `${x.status} ${x.path}`).join(', ')})`, { commit: sha, by: who.name });
    return sha;
  });
  await d.settled(name);
  return commit;
}
