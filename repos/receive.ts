// Server-side rules of the receive path, as pure functions: the pre-receive hook (receive-hook.ts)
// reads the facts from git and prints what these return, so git shows them as `remote:` lines.
import { MANAGER, MODEL_PATTERN } from '../controller/names.ts';
import { parseHyperhiveJson } from '../controller/surface/index.ts';
import { configFileProblem, DEFAULT_MAX_CONFIG_FILE_BYTES, EVALUATED_FILES } from '../controller/harness/eval-limits.ts';
import { linkProblem } from './links.ts';

/**
 * Who pushed. `local` is a push by path (no HYPERHIVE_PUSHER in the env): whoever can write the
 * repo's directory can write anything anyway, so it is held to operator rules. `controller` is set
 * only by the controller's own pushes, never by the HTTP endpoint.
 */
export type PusherKind = 'operator' | 'agent' | 'local' | 'controller';
export interface Pusher { kind: PusherKind; name: string }
export interface RefUpdate { ref: string; old: string; new: string }

export const ZERO = '0'.repeat(40);
export const isZero = (sha: string): boolean => /^0+$/.test(sha);
export const LIVE_FILES = ['notes.md', 'model'] as const;
export const DEFAULT_MAX_FILE_BYTES = 50 * 1024 * 1024;

/** What git says about one update; gathered by the hook only for updates that pass `classifyUpdate`. */
export interface UpdateFacts {
  /** old is an ancestor of new (true when old is zero: a creation). */
  fastForward: boolean;
  /**
   * Net change between the old and new tips (every file of the new tip when old is zero), with the
   * git mode the path has at the new tip (absent for a deletion, and where the hook did not say).
   */
  changes: { path: string; status: 'A' | 'M' | 'D' | 'T'; mode?: string }[];
  /** Tip contents of the files the rules read, when they changed (and are within their limit): agent.nix, hyperhive.json, model. */
  contents: Record<string, string>;
  /** Tip sizes of those files, when they changed. */
  sizes?: Record<string, number>;
  /** Result of `nix-instantiate --parse` on the new agent.nix, when it changed. */
  agentNix?: { ok: true } | { ok: false; error: string } | { skipped: string };
  /** Blobs among the pushed objects larger than the file size limit. */
  oversized: { path: string; size: number }[];
}

export interface Refusal { ref: string; reason: string }
export interface Verdict { refusals: Refusal[]; notices: string[] }

export type Classified =
  | { kind: 'refuse'; reason: string }
  | { kind: 'check'; branch: 'proposed' | 'live' }
  | { kind: 'unchecked' };

const operatorLevel = (p: Pusher): boolean => p.kind === 'operator' || p.kind === 'local' || p.kind === 'controller';
const short = (sha: string): string => sha.slice(0, 7);

/** The first cut, needing nothing from git: which ref, which direction, by whom. */
export function classifyUpdate(pusher: Pusher, agent: string, u: RefUpdate): Classified {
  const branch = u.ref === 'refs/heads/proposed' ? 'proposed' : u.ref === 'refs/heads/live' ? 'live' : null;
  if (pusher.kind === 'controller' && branch === null) return { kind: 'unchecked' };
  if (branch === null) {
    if (u.ref === 'refs/heads/applied') {
      return { kind: 'refuse', reason: 'applied is moved only by the controller, to an approved revision: push to proposed and approve the request' };
    }
    if (u.ref.startsWith('refs/tags/')) return { kind: 'refuse', reason: 'tags are not accepted here: only refs/heads/proposed and refs/heads/live may be pushed' };
    return { kind: 'refuse', reason: `only refs/heads/proposed and refs/heads/live may be pushed, not ${u.ref}` };
  }
  if (isZero(u.new)) return { kind: 'refuse', reason: `${branch} may not be deleted` };
  if (pusher.kind === 'agent' && pusher.name !== agent && pusher.name !== MANAGER) {
    return { kind: 'refuse', reason: `agent ${pusher.name} may not push to agent ${agent}'s repo` };
  }
  return { kind: 'check', branch };
}

/** Which live files this pusher may change in this agent's repo, per DESIGN.md. */
export function liveWritable(pusher: Pusher, agent: string): Set<string> {
  if (operatorLevel(pusher)) return new Set(LIVE_FILES);
  if (pusher.name === MANAGER && agent !== MANAGER) return new Set(['notes.md', 'model']);
  if (pusher.name === agent) return new Set(['notes.md']);
  return new Set();
}

function modelProblem(content: string): string | null {
  const line = content.replace(/\r?\n$/, '');
  if (MODEL_PATTERN.test(line)) return null;
  const shown = line.length > 40 ? `${line.slice(0, 40)}…` : line;
  return `model must be one line matching ${MODEL_PATTERN.source} (e.g. sonnet or a full model id), got ${JSON.stringify(shown)}`;
}

function whyNotLiveWriter(pusher: Pusher, agent: string, path: string): string {
  if (path === 'model' && agent === MANAGER) return "only an operator may change the manager's model";
  if (path === 'model') return `agent ${pusher.name} may not change the model of ${agent}: ask an operator or the manager`;
  return `agent ${pusher.name} may not change ${agent}'s ${path}`;
}

/** The rules that need git's facts, for one update already classified `check`. */
export function checkUpdate(pusher: Pusher, agent: string, branch: 'proposed' | 'live', u: RefUpdate, f: UpdateFacts, maxFileBytes = DEFAULT_MAX_FILE_BYTES, maxConfigFileBytes = DEFAULT_MAX_CONFIG_FILE_BYTES): { reasons: string[]; notices: string[] } {
  const reasons: string[] = [];
  const notices: string[] = [];
  for (const o of f.oversized) reasons.push(`${o.path} is ${o.size} bytes, over the file size limit of ${maxFileBytes} bytes`);
  // On both branches: the harness reads live's files each turn as it reads the config checkout.
  for (const c of f.changes) {
    const p = c.status === 'D' ? null : linkProblem(c.path, c.mode);
    if (p) reasons.push(p);
  }

  if (branch === 'live') {
    if (!isZero(u.old) && !f.fastForward) {
      reasons.push(`live only moves forward: ${short(u.new)} does not descend from ${short(u.old)} (fetch, rebase onto origin/live and push again, without --force)`);
    }
    const writable = liveWritable(pusher, agent);
    for (const c of f.changes) {
      if (!(LIVE_FILES as readonly string[]).includes(c.path)) {
        reasons.push(`on live only notes.md and model may change, not ${c.path}${c.status === 'D' ? ' (deleted)' : ''}: config belongs on proposed`);
      } else if (!writable.has(c.path)) {
        reasons.push(whyNotLiveWriter(pusher, agent, c.path));
      }
    }
    const model = f.changes.find((c) => c.path === 'model' && c.status !== 'D');
    if (model && f.contents.model !== undefined) {
      const p = modelProblem(f.contents.model);
      if (p) reasons.push(p);
    }
    return { reasons, notices };
  }

  for (const c of f.changes) {
    if ((LIVE_FILES as readonly string[]).includes(c.path) && c.status === 'A') {
      reasons.push(`${c.path} does not belong on proposed: notes.md and model live on the live branch (push them to refs/heads/live), they take effect without approval`);
    }
  }
  const changed = (p: string) => f.changes.some((c) => c.path === p && c.status !== 'D');
  // Every push of these is evaluated by Nix without approval: a size bound before any evaluation.
  for (const p of EVALUATED_FILES) {
    const problem = changed(p) && f.sizes?.[p] !== undefined ? configFileProblem(p, f.sizes[p], maxConfigFileBytes) : null;
    if (problem) reasons.push(problem);
  }
  if (changed('agent.nix') && f.agentNix) {
    if ('skipped' in f.agentNix) notices.push(`agent.nix parse check skipped: ${f.agentNix.skipped}`);
    else if (!f.agentNix.ok) reasons.push(`agent.nix does not parse: ${f.agentNix.error}`);
  }
  if (changed('hyperhive.json') && f.contents['hyperhive.json'] !== undefined) {
    try { parseHyperhiveJson(f.contents['hyperhive.json']); } catch (e) { reasons.push((e as Error).message); }
  }
  return { reasons, notices };
}

/** Parses the hook's stdin: one `<old> <new> <ref>` per line. */
export function parseUpdates(text: string): RefUpdate[] {
  const out: RefUpdate[] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]{40,64}) ([0-9a-f]{40,64}) (\S.*)$/.exec(line.trim());
    if (m) out.push({ old: m[1]!, new: m[2]!, ref: m[3]! });
  }
  return out;
}

/** The pusher the HTTP endpoint put in the hook's environment; none means a push by path. */
export function pusherFromEnv(env: Record<string, string | undefined>): Pusher {
  const kind = env.HYPERHIVE_PUSHER_KIND;
  const name = env.HYPERHIVE_PUSHER;
  if (name && (kind === 'operator' || kind === 'agent' || kind === 'controller')) return { kind, name };
  return { kind: 'local', name: name || 'local' };
}

/** How a verdict reads in the push output; a refused push lists every reason, not just the first. */
export function formatVerdict(v: Verdict): string[] {
  const lines = v.notices.map((n) => `hyperhive: ${n}`);
  for (const r of v.refusals) lines.push(`hyperhive: refused ${r.ref.replace(/^refs\/heads\//, '')}: ${r.reason}`);
  if (v.refusals.length) lines.push('hyperhive: push refused, nothing was changed');
  return lines;
}
