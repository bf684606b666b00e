// The program behind repos/hooks/pre-receive and post-receive:
//   node --import <tsx> repos/receive-hook.ts pre-receive|post-receive <agent>
// Whatever it prints, git relays to the pusher as `remote:` lines.
import path from 'node:path';
import { evalLimitsFromEnv, maxConfigFileBytesFromEnv } from '../controller/harness/eval-limits.ts';
import { runBounded } from '../controller/harness/run-bounded.ts';
import { findNixInstantiate } from '../controller/harness/surface.ts';
import { git } from './git.ts';
import {
  checkUpdate, classifyUpdate, DEFAULT_MAX_FILE_BYTES, formatVerdict, isZero, parseUpdates, pusherFromEnv,
  type Refusal, type RefUpdate, type UpdateFacts, type Verdict,
} from './receive.ts';

const CHECKED_CONTENTS = ['agent.nix', 'hyperhive.json', 'model'];

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * git() builds its env from nothing; in pre-receive the pushed objects sit in a quarantine that
 * only these variables make visible, so they are passed on.
 */
function quarantineEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of ['GIT_OBJECT_DIRECTORY', 'GIT_ALTERNATE_OBJECT_DIRECTORIES', 'GIT_QUARANTINE_PATH']) {
    const v = process.env[k];
    if (v) env[k] = path.resolve(v);
  }
  return env;
}

interface Ctx { repo: string; env: Record<string, string>; maxFileBytes: number; maxConfigFileBytes: number }

const run = (ctx: Ctx, args: string[], input?: string) => git(args, { repo: ctx.repo, env: ctx.env, input, allowFail: true });

/** `nix-instantiate --parse` of the pushed agent.nix, under the same bounds as every evaluation (eval-limits.ts). */
async function parseAgentNix(text: string): Promise<NonNullable<UpdateFacts['agentNix']>> {
  const nix = await findNixInstantiate();
  if (!nix) return { skipped: 'nix-instantiate not found' };
  let limits;
  try { limits = evalLimitsFromEnv(); } catch (e) { return { skipped: (e as Error).message }; }
  const r = await runBounded(nix, ['--parse', '-'], { limits, input: text, discardStdout: true });
  if (r.exceeded) return { ok: false, error: `parsing it ${r.exceeded}` };
  if (r.code === 0) return { ok: true };
  if (r.code === -1) return { skipped: r.stderr };
  // nix's message carries a caret picture of the line; the first lines say what and where.
  const lines = r.stderr.split('\n').map((l) => l.trimEnd()).filter((l) => l.trim() !== '');
  const what = lines.slice(0, 2).map((l) => l.trim()).join(' ')
    .replace(/«stdin»/g, 'agent.nix').replace(/^error:\s*/, '').replace(/:$/, '');
  return { ok: false, error: what || `nix-instantiate exited with ${r.code ?? r.signal}` };
}

async function oversizedObjects(ctx: Ctx, tip: string): Promise<{ path: string; size: number }[]> {
  // Objects reachable from the new tip but from no existing ref: exactly what this push brings.
  const list = await run(ctx, ['rev-list', '--objects', tip, '--not', '--all']);
  if (list.code !== 0) throw new Error(`git rev-list: ${list.stderr.trim()}`);
  const check = await run(ctx, ['cat-file', '--batch-check=%(objecttype) %(objectsize) %(rest)'], list.stdout.toString('utf8'));
  const out: { path: string; size: number }[] = [];
  for (const line of check.stdout.toString('utf8').split('\n')) {
    const m = /^blob (\d+) ?(.*)$/.exec(line);
    if (m && Number(m[1]) > ctx.maxFileBytes) out.push({ path: m[2] || '(unnamed blob)', size: Number(m[1]) });
  }
  return out;
}

async function gatherFacts(ctx: Ctx, u: RefUpdate, branch: 'proposed' | 'live'): Promise<UpdateFacts> {
  const facts: UpdateFacts = { fastForward: true, changes: [], contents: {}, oversized: await oversizedObjects(ctx, u.new) };
  // With the modes: a symlink or gitlink is refused whatever its name (receive.ts).
  if (isZero(u.old)) {
    const r = await run(ctx, ['ls-tree', '-r', '-z', u.new]);
    if (r.code !== 0) throw new Error(`git ls-tree: ${r.stderr.trim()}`);
    for (const rec of r.stdout.toString('utf8').split('\0')) {
      const tab = rec.indexOf('\t');
      if (tab > 0) facts.changes.push({ path: rec.slice(tab + 1), status: 'A', mode: rec.slice(0, rec.indexOf(' ')) });
    }
  } else {
    const ff = await run(ctx, ['merge-base', '--is-ancestor', u.old, u.new]);
    if (ff.code > 1) throw new Error(`git merge-base: ${ff.stderr.trim()}`);
    facts.fastForward = ff.code === 0;
    const r = await run(ctx, ['diff-tree', '-r', '-z', '--no-renames', '--raw', u.old, u.new]);
    if (r.code !== 0) throw new Error(`git diff-tree: ${r.stderr.trim()}`);
    // `:<old mode> <new mode> <old sha> <new sha> <status>` then the path, each NUL-terminated.
    const parts = r.stdout.toString('utf8').split('\0');
    for (let i = 0; i + 1 < parts.length; i += 2) {
      const [, mode, , , letters] = parts[i]!.slice(1).split(' ');
      const status = letters?.charAt(0);
      if (status === 'A' || status === 'M' || status === 'D' || status === 'T') facts.changes.push({ path: parts[i + 1]!, status, mode });
    }
  }
  facts.sizes = {};
  for (const p of CHECKED_CONTENTS) {
    if (!facts.changes.some((c) => c.path === p && c.status !== 'D')) continue;
    const size = Number((await run(ctx, ['cat-file', '-s', `${u.new}:${p}`])).stdout.toString('utf8').trim());
    facts.sizes[p] = size;
    if (!(size <= ctx.maxFileBytes)) {
      if (!facts.oversized.some((o) => o.path === p)) facts.oversized.push({ path: p, size });
      continue;
    }
    // Over the config-file limit, the rules refuse it by its size: no need to read or parse it.
    if (p !== 'model' && size > ctx.maxConfigFileBytes) continue;
    facts.contents[p] = (await run(ctx, ['cat-file', 'blob', `${u.new}:${p}`])).stdout.toString('utf8');
  }
  if (branch === 'proposed' && facts.contents['agent.nix'] !== undefined) facts.agentNix = await parseAgentNix(facts.contents['agent.nix']);
  return facts;
}

async function preReceive(agent: string): Promise<number> {
  const updates = parseUpdates(await readStdin());
  const pusher = pusherFromEnv(process.env);
  const limit = Number(process.env.HYPERHIVE_MAX_FILE_BYTES);
  const ctx: Ctx = {
    repo: path.resolve(process.env.GIT_DIR ?? '.'),
    env: quarantineEnv(),
    maxFileBytes: Number.isFinite(limit) && limit > 0 ? limit : DEFAULT_MAX_FILE_BYTES,
    maxConfigFileBytes: maxConfigFileBytesFromEnv(),
  };
  const verdict: Verdict = { refusals: [], notices: [] };
  const refuse = (ref: string, reason: string) => verdict.refusals.push({ ref, reason } satisfies Refusal);
  for (const u of updates) {
    const c = classifyUpdate(pusher, agent, u);
    if (c.kind === 'refuse') { refuse(u.ref, c.reason); continue; }
    if (c.kind === 'unchecked') continue;
    const facts = await gatherFacts(ctx, u, c.branch);
    const r = checkUpdate(pusher, agent, c.branch, u, facts, ctx.maxFileBytes, ctx.maxConfigFileBytes);
    for (const reason of r.reasons) refuse(u.ref, reason);
    verdict.notices.push(...r.notices);
  }
  for (const line of formatVerdict(verdict)) process.stdout.write(`${line}\n`);
  return verdict.refusals.length ? 1 : 0;
}

// Control characters from the controller's answer must not reach the pusher's terminal.
const clean = (s: string): string => s.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '');

async function postReceive(agent: string): Promise<number> {
  const updates = parseUpdates(await readStdin());
  const url = process.env.HYPERHIVE_URL;
  const token = process.env.HYPERHIVE_HOOK_TOKEN;
  if (!url || !token || updates.length === 0) return 0;
  try {
    const res = await fetch(`${url.replace(/\/+$/, '')}/api/internal/pushed`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ agent, updates, pusher: process.env.HYPERHIVE_PUSHER || 'local' }),
      signal: AbortSignal.timeout(20_000),
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const body = await res.json() as { lines?: unknown };
    const lines = Array.isArray(body.lines) ? body.lines.filter((l): l is string => typeof l === 'string') : [];
    for (const l of lines) process.stdout.write(`hyperhive: ${clean(l)}\n`);
  } catch {
    process.stdout.write('hyperhive: the push landed; the controller did not answer now and will reconcile it shortly\n');
  }
  return 0;
}

async function main(): Promise<number> {
  const [mode, agent] = process.argv.slice(2);
  if (!agent || (mode !== 'pre-receive' && mode !== 'post-receive')) {
    process.stderr.write('usage: receive-hook.ts pre-receive|post-receive <agent>\n');
    return 2;
  }
  if (mode === 'post-receive') {
    // Never fail a push that has already landed.
    try { return await postReceive(agent); } catch { return 0; }
  }
  try {
    return await preReceive(agent);
  } catch (e) {
    process.stdout.write(`hyperhive: refused: the push could not be checked (${(e as Error).message}); nothing was changed\n`);
    return 1;
  }
}

process.exitCode = await main();
