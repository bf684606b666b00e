export interface GitIdentity { name: string; email: string }

/** The git identity recorded for an actor; everyone gets a synthetic address so no real mail ever leaks into history. */
export function identityFor(who: string): GitIdentity {
  return { name: who, email: `${who}@hyperhive.local` };
}

/** The committer of every commit the controller writes; the author says on whose behalf. */
export const CONTROLLER_COMMITTER: GitIdentity = { name: 'hyperhive', email: 'controller@hyperhive.local' };
