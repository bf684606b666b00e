import type { Approval } from '../../../controller/approvals/store.ts';
import type { Controller } from '../../../controller/controller.ts';
import { changedPaths } from '../../../repos/diff.ts';
import type { ApprovalRow, RevisionInfo } from '../../views/components.ts';
import { SizedLru } from '../../views/lru.ts';

/** Commit summaries and diff sizes for the dashboard and agent pages, cached by SHA (both are immutable). */
export class RevisionCache {
  private readonly commits = new SizedLru<{ subject: string; author: string; date: number }>(20_000);
  private readonly stats = new SizedLru<{ added: number; deleted: number }>(20_000);
  constructor(private readonly c: Controller) {}

  async revisionInfo(agent: string, sha: string | null): Promise<RevisionInfo | null> {
    if (!sha) return null;
    const c = this.c;
    let ci = this.commits.get(sha);
    if (!ci) {
      const info = await c.commitInfo(agent, sha).catch(() => null);
      if (!info) return null;
      ci = { subject: info.subject, author: info.author.name, date: info.author.date };
      this.commits.set(sha, ci, 1);
    }
    // Looked up each time: the push record can land a moment after the commit is readable.
    const proposer = c.pusherOf(agent, 'refs/heads/proposed', sha) ?? c.pusherOf(agent, 'refs/heads/applied', sha);
    return { sha, ...ci, proposer };
  }

  async approvalRow(a: Approval): Promise<ApprovalRow> {
    if (!a.base || !a.head) return { approval: a, added: null, deleted: null };
    if (typeof a.data.additions === 'number') return { approval: a, added: a.data.additions, deleted: Number(a.data.deletions ?? 0) };
    const key = `${a.base}..${a.head}`;
    let s = this.stats.get(key);
    if (!s) {
      const paths = await changedPaths(this.c.repoOf(a.agent), a.base, a.head).catch(() => null);
      if (!paths) return { approval: a, added: null, deleted: null };
      s = { added: paths.reduce((n, p) => n + p.additions, 0), deleted: paths.reduce((n, p) => n + p.deletions, 0) };
      this.stats.set(key, s, 1);
    }
    return { approval: a, ...s };
  }
}
