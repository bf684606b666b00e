import test from 'ava';
import { fsckProblems, gitCli, mustGit, refs } from '../helpers/git.ts';
import { cloneAs, startGitHttp, type GitHttp } from '../helpers/git-http.ts';

let f: GitHttp;
test.before(async () => { f = await startGitHttp({ agents: ['alice'] }); });
test.after.always(async () => { await f?.close(); });

test('20 concurrent pushers to one repo: one lands, the others are refused as stale, the repo stays clean', async (t) => {
  t.timeout(10 * 60_000); // 20 pushes each run a node hook; on 2 shared cores that takes a while
  const N = 20;
  const dir = await cloneAs(f, 'alice', 'operator', 'racers');
  const base = (await mustGit(['rev-parse', 'HEAD'], { cwd: dir })).trim();
  // Twenty sibling commits on the same base, as twenty workstations would make them.
  const tips: string[] = [];
  for (let i = 0; i < N; i++) {
    await mustGit(['checkout', '-q', '-B', `racer-${i}`, base], { cwd: dir });
    await mustGit(['commit', '-q', '--allow-empty', '-m', `pusher ${i}`], { cwd: dir });
    tips.push((await mustGit(['rev-parse', 'HEAD'], { cwd: dir })).trim());
  }
  const results = await Promise.all(tips.map((tip, i) => gitCli(['push', i % 2 ? f.remote('alice', 'alice') : 'origin', `${tip}:refs/heads/proposed`], { cwd: dir })));
  for (const [i, r] of results.entries()) {
    if (r.code !== 0) {
      // Every push started from the same base, so each loser lost the compare-and-swap on the ref
      // (or saw the winner's tip already and was stopped by git itself).
      t.regex(r.stderr, /\[remote rejected\].*(cannot lock ref|failed to update ref|but expected)|\[rejected\].*(non-fast-forward|fetch first)/, `pusher ${i}: ${r.stderr}`);
    }
  }
  const landed = tips.filter((_, i) => results[i]!.code === 0);
  t.is(landed.length, 1, `exactly one push can win from base ${base}`);
  const final = (await refs(f.repo('alice')))['refs/heads/proposed'];
  t.is(final, landed[0]);
  t.deepEqual(f.events().filter((e) => e.ref === 'refs/heads/proposed').map((e) => e.new), [final]);
  t.is(await fsckProblems(f.repo('alice')), null);

  // A loser that rebases onto the winner lands next, as a fast-forward.
  const loser = tips.findIndex((tip) => tip !== final);
  await mustGit(['checkout', '-q', `racer-${loser}`], { cwd: dir });
  await mustGit(['fetch', '-q', 'origin'], { cwd: dir });
  await mustGit(['rebase', '-q', 'origin/proposed'], { cwd: dir });
  const again = await gitCli(['push', 'origin', `HEAD:refs/heads/proposed`], { cwd: dir });
  t.is(again.code, 0, again.stderr);
});
