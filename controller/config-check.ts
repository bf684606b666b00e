import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { checkoutRevision } from './runtime/checkout.ts';
import { treeOf } from '../repos/refs.ts';
import { evaluateSurface } from './harness/surface.ts';
import type { HyperhiveJson } from './surface/index.ts';

export interface ConfigCheck { ok: boolean; error: string | null; warnings: string[]; surface: HyperhiveJson | null }

// In-flight evaluations are shared: the check right after a raise and an approve close behind it
// must not run Nix twice.
const cache = new Map<string, Promise<ConfigCheck>>();
// The verdict depends on the files only: a revert or rollback to a tree seen before reuses it.
const byTree = new Map<string, Promise<ConfigCheck>>();

/**
 * Evaluates a config revision the way the harness will (agent.nix's `hyperhive` set, or hyperhive.json
 * where Nix is absent) in a scratch checkout. Commits are immutable, so results are cached by SHA.
 */
export function checkConfigRevision(repo: string, revision: string): Promise<ConfigCheck> {
  return memo(cache, `${repo}\0${revision}`, () => evaluateTree(repo, revision));
}

async function evaluateTree(repo: string, revision: string): Promise<ConfigCheck> {
  const tree = await treeOf(repo, revision).catch(() => null);
  if (!tree) return evaluate(repo, revision);
  return memo(byTree, `${repo}\0${tree}`, () => evaluate(repo, revision));
}

/** The promise cached under `key`, or a new one from `make` (the cache is emptied past 5,000 entries). */
function memo(map: Map<string, Promise<ConfigCheck>>, key: string, make: () => Promise<ConfigCheck>): Promise<ConfigCheck> {
  const hit = map.get(key);
  if (hit) return hit;
  if (map.size > 5000) map.clear();
  const p = make();
  map.set(key, p);
  return p;
}

async function evaluate(repo: string, revision: string): Promise<ConfigCheck> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'hh-check-'));
  const target = path.join(dir, 'config');
  let result: ConfigCheck;
  try {
    await checkoutRevision(repo, revision, target);
    const r = await evaluateSurface(target);
    result = { ok: true, error: null, warnings: r.warnings, surface: r.surface };
  } catch (e) {
    result = { ok: false, error: (e as Error).message, warnings: [], surface: null };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
  return result;
}
