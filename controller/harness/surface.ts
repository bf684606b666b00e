import { mkdtemp, readFile, rm, access, mkdir } from 'node:fs/promises';
import { constants } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HyperhiveError } from '../errors.ts';
import { assertNotLinked, readConfigText } from './config-file.ts';
import { configFileProblem, evalLimitsFromEnv, maxConfigFileBytesFromEnv, type EvalLimits } from './eval-limits.ts';
import { runBounded, Semaphore } from './run-bounded.ts';
import { parseHyperhiveJson, validateHyperhiveJson, type HyperhiveJson } from '../surface/hyperhive-json.ts';

export interface SurfaceResult { surface: HyperhiveJson; source: 'nix' | 'json'; warnings: string[] }
export interface EvaluateSurfaceOptions {
  /** The nix-instantiate to run; default: found on PATH (then /usr/bin). */
  nixInstantiate?: string | null;
  /** Default: from the environment (eval-limits.ts). */
  limits?: Partial<Pick<EvalLimits, 'maxMb' | 'timeoutMs'>>;
  /** Default: from $HYPERHIVE_MAX_CONFIG_FILE_BYTES, else 1 MB. */
  maxConfigFileBytes?: number;
  /** Where the evaluation waits for its turn; default: this process's gate of $HYPERHIVE_EVAL_CONCURRENCY slots. */
  gate?: Semaphore;
}

let processGate: Semaphore | null = null;
/** The one gate of this process: every config check of the controller waits here. */
export function evalGate(): Semaphore {
  return processGate ??= new Semaphore(evalLimitsFromEnv().concurrency);
}

export const NIX_ABSENT_WARNING = 'nix-instantiate not found: Nix overrides in agent.nix are ignored';
const STUB_MARK = '-hyperhive-stub-';
const EVAL_NIX = new URL('./surface-eval.nix', import.meta.url);
const IDENT = "[A-Za-z_][A-Za-z0-9_'-]*";

type Tree = { [name: string]: Tree };

/** `pkgs.a.b` chains in agent.nix's text, as a tree: the stub pkgs set is built from it. */
export function scanPkgTree(text: string): Tree {
  const tree: Tree = {};
  const re = new RegExp(`\\bpkgs((?:\\.${IDENT})+)`, 'g');
  for (const m of text.matchAll(re)) {
    let node = tree;
    for (const part of m[1].slice(1).split('.')) node = node[part] ??= {};
  }
  return tree;
}

/** First-level `lib.x` names, so a lib function the stub lacks fails with a message naming it. */
export function scanLibNames(text: string): string[] {
  const names = new Set<string>();
  for (const m of text.matchAll(new RegExp(`\\blib\\.(${IDENT})`, 'g'))) names.add(m[1]);
  return [...names].sort();
}

async function exists(p: string, mode = constants.F_OK): Promise<boolean> {
  try { await access(p, mode); return true; } catch { return false; }
}

export async function findNixInstantiate(envPath = process.env.PATH ?? ''): Promise<string | null> {
  for (const dir of [...envPath.split(path.delimiter).filter(Boolean), '/usr/bin', '/run/current-system/sw/bin', '/nix/var/nix/profiles/default/bin']) {
    const p = path.join(dir, 'nix-instantiate');
    if (await exists(p, constants.X_OK)) return p;
  }
  return null;
}

// Nix prints ANSI colours and a hint line; the request page wants just the error.
export function trimNixError(stderr: string): string {
  const lines = stderr.replace(/\x1b\[[0-9;]*m/g, '').split('\n')
    .filter((l) => l.trim() !== '' && !/use '--show-trace'/.test(l));
  const text = lines.join('\n').trim();
  return text.length > 4000 ? text.slice(0, 4000) + ' …' : text;
}

/**
 * The agent's effective surface: the `hyperhive` attribute of configDir/agent.nix
 * evaluated with stub pkgs/lib (restricted eval, no daemon, no nixpkgs), validated
 * against the Contract shape. Without nix-instantiate, hyperhive.json is read as is.
 */
export async function evaluateSurface(configDir: string, opts: EvaluateSurfaceOptions = {}): Promise<SurfaceResult> {
  const dir = path.resolve(configDir);
  const jsonFile = path.join(dir, 'hyperhive.json');
  const nix = opts.nixInstantiate === undefined ? await findNixInstantiate() : opts.nixInstantiate;
  const warnings: string[] = [];

  const maxBytes = opts.maxConfigFileBytes ?? maxConfigFileBytesFromEnv();
  const withinLimit = (file: string, size: number) => {
    const p = configFileProblem(file, size, maxBytes);
    if (p) throw new HyperhiveError('too_large', p, { file, size, limit: maxBytes });
  };
  // Read without following links, here and (by agent.nix's readFile) in Nix: see config-file.ts.
  const text = await readConfigText(dir, 'agent.nix');
  if (text !== null) withinLimit('agent.nix', Buffer.byteLength(text));
  if (!nix || text === null) {
    if (!nix && text !== null) warnings.push(NIX_ABSENT_WARNING);
    const json = await readConfigText(dir, 'hyperhive.json');
    if (json === null) {
      warnings.push('no hyperhive.json: the agent gets no extra tools, MCP servers or env');
      return { surface: validateHyperhiveJson({}), source: 'json', warnings };
    }
    withinLimit('hyperhive.json', Buffer.byteLength(json));
    const surface = parseHyperhiveJson(json, jsonFile);
    return { surface, source: 'json', warnings };
  }
  const json = await assertNotLinked(dir, 'hyperhive.json');
  if (json) withinLimit('hyperhive.json', json.size);
  const limits = { ...evalLimitsFromEnv(), ...opts.limits };

  const expr = await readFile(EVAL_NIX, 'utf8');
  const scratch = await mkdtemp(path.join(tmpdir(), 'hyperhive-nix-'));
  try {
    await mkdir(path.join(scratch, 'conf'));
    // A clean environment: no NIX_PATH (no <nixpkgs>), no user config, state in a scratch dir,
    // so it runs as root or not, with or without a daemon, the same way every time.
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: scratch,
      NIX_STATE_DIR: path.join(scratch, 'state'),
      NIX_LOG_DIR: path.join(scratch, 'log'),
      NIX_CONF_DIR: path.join(scratch, 'conf'),
      NIX_USER_CONF_FILES: path.join(scratch, 'conf', 'none.conf'),
      XDG_CACHE_HOME: path.join(scratch, 'cache'),
      NIX_REMOTE: '',
    };
    const args = [
      '--eval', '--strict', '--json',
      // Restricted: agent.nix may read files of its own config dir, nothing else on the host.
      '--option', 'restrict-eval', 'true',
      '-I', `hyperhive-config=${dir}`,
      '--argstr', 'dir', dir,
      '--argstr', 'pkgTree', JSON.stringify(scanPkgTree(text)),
      '--argstr', 'libNames', JSON.stringify(scanLibNames(text)),
      '-E', expr,
    ];
    const res = await (opts.gate ?? evalGate()).run(() => runBounded(nix, args, { limits, env, cwd: scratch }));
    if (res.exceeded) throw new HyperhiveError('unprocessable', `agent.nix: evaluation ${res.exceeded}`, { file: 'agent.nix', limits });
    if (res.code !== 0) {
      const msg = trimNixError(res.stderr) || `nix-instantiate exited with ${res.code}`;
      throw new HyperhiveError('unprocessable', msg, { file: 'agent.nix' });
    }
    let out: { found: boolean; value: unknown; imports: boolean };
    try { out = JSON.parse(res.stdout); } catch (e) {
      throw new HyperhiveError('internal', `nix-instantiate printed no JSON: ${(e as Error).message}`);
    }
    if (!out.found) warnings.push('agent.nix defines no hyperhive set: the agent gets no extra tools, MCP servers or env');
    if (out.imports) warnings.push('agent.nix imports other modules: their hyperhive settings are not evaluated');
    if (JSON.stringify(out.value).includes(STUB_MARK)) {
      warnings.push('hyperhive refers to pkgs: those store paths are stubs in this evaluation and exist only in a Nix-built container');
    }
    let surface: HyperhiveJson;
    try { surface = validateHyperhiveJson(out.value, 'agent.nix: hyperhive'); } catch (e) {
      if (e instanceof HyperhiveError) throw new HyperhiveError('unprocessable', e.message, e.data);
      throw e;
    }
    return { surface, source: 'nix', warnings };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
