import { commitFiles } from '../../repos/commit.ts';
import { identityFor } from '../../repos/identity.ts';
import { gitCli, pushByPath, refOf } from './git.ts';

const run = async (repo: string, args: string[]): Promise<{ code: number; out: string }> => {
  const r = await gitCli(['--git-dir', repo, ...args]);
  return { code: r.code, out: `${r.stdout}${r.stderr}` };
};

/** Trees and ancestry of commits that never change once they exist: memoized for the whole run. */
export class GitFacts {
  private trees = new Map<string, string>();
  private anc = new Map<string, boolean>();

  async tree(repo: string, sha: string): Promise<string> {
    const k = `${repo}\0${sha}`;
    let t = this.trees.get(k);
    if (!t) {
      const r = await run(repo, ['rev-parse', '--verify', '-q', `${sha}^{tree}`]);
      if (r.code !== 0) throw new Error(`cannot read the tree of ${sha} in ${repo}: ${r.out.trim()}`);
      t = r.out.trim();
      this.trees.set(k, t);
    }
    return t;
  }

  async isAncestor(repo: string, a: string, b: string): Promise<boolean> {
    if (a === b) return true;
    const k = `${repo}\0${a}\0${b}`;
    let v = this.anc.get(k);
    if (v === undefined) {
      v = (await run(repo, ['merge-base', '--is-ancestor', a, b])).code === 0;
      this.anc.set(k, v);
    }
    return v;
  }
}

let counter = 0;

/**
 * A new commit on `proposed` whose tree differs from every earlier one. By default a real `git push`
 * by path (clone, commit, push: the pre-receive and reference-transaction hooks run as for an
 * operator); `plumbing` writes the commit with the repo layer and moves the ref by CAS, which fires
 * the same reference-transaction hook but skips the node pre-receive hook, to save CPU in long runs.
 */
export async function propose(repo: string, agent: string, how: 'push' | 'plumbing'): Promise<string> {
  counter += 1;
  const files: Record<string, string> = { 'crash.txt': `${agent} proposal ${counter} ${process.pid} ${Date.now()}\n` };
  if (counter % 3 === 0) files[`notes/step-${counter % 5}.md`] = `step ${counter}\n`;
  if (how === 'push') return pushByPath(repo, files, { message: `crash test proposal ${counter}` });
  const old = refOf(repo, 'proposed');
  if (!old) throw new Error(`${repo} has no proposed branch`);
  return commitFiles(repo, { branch: 'proposed', files, message: `crash test proposal ${counter}`, author: identityFor('tester'), expectedOld: old, pusher: 'local' });
}
