import type { Identity } from '../auth/index.ts';
import { HyperhiveError } from '../errors.ts';
import { assertCan } from '../lifecycle.ts';
import { commitFiles } from '../../repos/commit.ts';
import { identityFor } from '../../repos/identity.ts';
import { readFileAt } from '../../repos/read.ts';
import { readRefs } from '../../repos/refs.ts';
import { liveWritable } from '../../repos/receive.ts';
import { short, type OpDeps } from './deps.ts';

export const MAX_NOTES_BYTES = 1024 * 1024;

/** Replaces the agent's notes.md on `live` as `who` (who may write whose notes: the receive rules). Restarts nothing. */
export async function writeNotes(d: OpDeps, name: string, content: string, message: string | undefined, who: Identity): Promise<{ commit: string; unchanged: boolean; bytes: number }> {
  const bytes = Buffer.byteLength(content, 'utf8');
  if (bytes > MAX_NOTES_BYTES) throw new HyperhiveError('too_large', `content is ${bytes} bytes; notes are at most ${MAX_NOTES_BYTES} bytes`, { field: 'content' });
  const pusher = { kind: who.kind === 'operator' ? 'operator' as const : 'agent' as const, name: who.name };
  if (!liveWritable(pusher, name).has('notes.md')) throw new HyperhiveError('forbidden', `agent ${who.name} may not write ${name}'s notes`);
  assertCan(d.requireAgent(name), 'write-notes');
  const repo = d.repo(name);
  const result = await d.exclusive(name, async () => {
    const { live } = await readRefs(repo);
    if (!live) throw new HyperhiveError('conflict', `agent ${name} has no live branch; an operator can restore it with \`hyperhive repair ${name}\``);
    const old = await readFileAt(repo, live, 'notes.md');
    if (old && old.toString('utf8') === content) return { commit: live, unchanged: true };
    const sha = await commitFiles(repo, { branch: 'live', files: { 'notes.md': content }, message: message ?? 'Update notes', author: identityFor(who.name), expectedOld: live, pusher: who.name });
    d.log.info(name, 'notes-written', `notes.md written by ${who.name} on live ${short(sha)} (${bytes} bytes)`, { live: sha });
    return { commit: sha, unchanged: false };
  });
  if (!result.unchanged) d.events.publish({ type: 'agent.changed', agent: name, what: 'live' });
  return { ...result, bytes };
}
