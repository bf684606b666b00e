// A git credential helper that reads the token from its file each time git asks, so the token is
// never written into a URL, a config file or a credential store on disk.
import { HyperhiveError } from '../controller/errors.ts';
import { git } from './git.ts';

/** Quotes for /bin/sh: everything inside single quotes is literal, a single quote is spliced in. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

const USERNAME = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * The `credential.helper` value: a shell function answering only `get` (never `store`/`erase`),
 * with the token read from `tokenFile` at that moment.
 */
export function credentialHelperCommand(username: string, tokenFile: string): string {
  if (!USERNAME.test(username)) throw new HyperhiveError('bad_request', `credential helper: invalid username ${JSON.stringify(username)}`);
  if (typeof tokenFile !== 'string' || tokenFile === '' || /[\0\n\r]/.test(tokenFile)) {
    throw new HyperhiveError('bad_request', `credential helper: invalid token file path ${JSON.stringify(tokenFile)}`);
  }
  return `!f() { test "$1" = get || exit 0; echo username=${username}; printf 'password=%s\\n' "$(cat ${shellQuote(tokenFile)})"; }; f`;
}

/**
 * Configures the helper in one repo's own config. The empty entry first resets the helper list, so
 * a helper from the user's global config (a `store` one, say) never receives the token to keep.
 */
export async function configureCredentialHelper(repoDir: string, username: string, tokenFile: string): Promise<void> {
  const cmd = credentialHelperCommand(username, tokenFile);
  await git(['config', '--unset-all', 'credential.helper'], { cwd: repoDir, allowFail: true });
  await git(['config', '--add', 'credential.helper', ''], { cwd: repoDir });
  await git(['config', '--add', 'credential.helper', cmd], { cwd: repoDir });
}
