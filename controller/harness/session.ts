import { readFile, writeFile, rm, rename, mkdir } from 'node:fs/promises';
import path from 'node:path';

// The CLI's session id, kept in the state dir so a restarted harness resumes the same
// conversation. It changes on every resume, so it is rewritten after every turn.
export const SESSION_FILE = 'session-id';
const SESSION_ID = /^[A-Za-z0-9._-]{1,128}$/;

export async function readSessionId(stateDir: string): Promise<string | undefined> {
  try {
    const id = (await readFile(path.join(stateDir, SESSION_FILE), 'utf8')).trim();
    return SESSION_ID.test(id) ? id : undefined;
  } catch { return undefined; }
}

export async function writeSessionId(stateDir: string, id: string): Promise<void> {
  if (!SESSION_ID.test(id)) return;
  await mkdir(stateDir, { recursive: true });
  const file = path.join(stateDir, SESSION_FILE);
  await writeFile(`${file}.tmp`, id + '\n');
  await rename(`${file}.tmp`, file);
}

export async function clearSessionId(stateDir: string): Promise<void> {
  await rm(path.join(stateDir, SESSION_FILE), { force: true });
}
