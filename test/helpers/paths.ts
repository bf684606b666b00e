import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The real CLI entry (`node bin/hyperhive.mjs <command>`). */
export const CLI = path.join(PROJECT_ROOT, 'bin', 'hyperhive.mjs');

/** A fresh directory under the system temp dir. */
export const tmpDir = (prefix = 'hh-'): string => fs.mkdtempSync(path.join(os.tmpdir(), prefix));
