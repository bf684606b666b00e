import { constants, type Stats } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import path from 'node:path';
import { HyperhiveError } from '../errors.ts';

const refusal = (dir: string, name: string, what: string): HyperhiveError =>
  new HyperhiveError('forbidden', `${name} in ${dir} ${what}: the harness reads config files only as regular files of the checkout`, { file: name });

/**
 * A file of the config checkout (prompt.md, agent.nix, hyperhive.json), read without following a
 * link: O_NOFOLLOW makes the open fail on a symbolic link, and the fstat of what was opened refuses
 * anything but a regular file. The checkout never holds links; this
 * keeps one that got there anyway from making a host file the agent's prompt. null when absent.
 */
export async function readConfigFile(dir: string, name: string): Promise<Buffer | null> {
  const file = path.join(dir, name);
  let fh;
  try {
    // O_NONBLOCK: opening a FIFO must not hang the turn before the fstat below refuses it.
    fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'ELOOP') throw refusal(dir, name, 'is a symbolic link');
    throw e;
  }
  try {
    if (!(await fh.stat()).isFile()) throw refusal(dir, name, 'is not a regular file');
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

export const readConfigText = async (dir: string, name: string): Promise<string | null> => (await readConfigFile(dir, name))?.toString('utf8') ?? null;

/**
 * Refuses `name` in `dir` when it is there as anything but a regular file (for a file another
 * program reads, e.g. Nix). Returns its lstat, or null when absent.
 */
export async function assertNotLinked(dir: string, name: string): Promise<Stats | null> {
  const st = await lstat(path.join(dir, name)).catch((e: NodeJS.ErrnoException) => { if (e.code === 'ENOENT') return null; throw e; });
  if (st?.isSymbolicLink()) throw refusal(dir, name, 'is a symbolic link');
  if (st && !st.isFile()) throw refusal(dir, name, 'is not a regular file');
  return st;
}
