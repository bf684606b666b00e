import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRepo } from '../../repos/store.ts';
import { identityFor } from '../../repos/identity.ts';
import { PROJECT_ROOT } from './paths.ts';

/** Temp bare repos made from the real templates; `cleanup` removes every one made. */
export function repoFixture(prefix: string) {
  const dirs: string[] = [];
  return {
    async make() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), `hh-repos-${prefix}-`));
      dirs.push(dir);
      const repo = path.join(dir, 'a.git');
      const roots = await createRepo(repo, { agent: 'a', templatesDir: path.join(PROJECT_ROOT, 'templates'), eventsFile: path.join(dir, 'refs.jsonl'), author: identityFor('operator'), projectRoot: PROJECT_ROOT });
      return { dir, repo, roots };
    },
    cleanup() { for (const d of dirs) fs.rmSync(d, { recursive: true, force: true }); },
  };
}
