import { HyperhiveError } from '../errors.ts';
import { NAME_PATTERN } from '../names.ts';
import type { ApprovalKind } from './store.ts';

/**
 * The quorum rules of `<state>/policy.json`: `{"quorum": [{"agent": "<name or *>", "paths": [globs],
 * "approvals": N}]}`. A rule applies to a request of that agent (every kind but `tool`: a tool call is
 * decided by one operator) that changes one of its paths (no paths: any request); the request needs
 * the largest `approvals` of the rules that apply, else one.
 */
export interface QuorumRule { agent: string; paths: string[]; approvals: number }
export interface QuorumRules { quorum: QuorumRule[] }
export const NO_RULES: QuorumRules = { quorum: [] };
export const MAX_APPROVALS = 20;

const RULE_KEYS = ['agent', 'paths', 'approvals'];
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A path glob as in .gitignore-less shells: `*` within a segment, `**` across, `?` one character; otherwise exact. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      i++;
      // `**/` also matches no directory at all (`nix/**/x.nix` matches `nix/x.nix`).
      if (glob[i + 1] === '/') { i++; re += '(?:.*/)?'; } else re += '.*';
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Validates a parsed policy.json; throws one error naming every problem. */
export function validateQuorumRules(value: unknown, file = 'policy.json'): QuorumRules {
  if (!isObject(value)) throw new HyperhiveError('bad_request', `${file}: must be a JSON object {"quorum": [...]}`);
  const problems: string[] = [];
  for (const k of Object.keys(value)) if (k !== 'quorum') problems.push(`unknown key ${JSON.stringify(k)} (allowed: quorum)`);
  const rules: QuorumRule[] = [];
  const list = value.quorum ?? [];
  if (!Array.isArray(list)) problems.push('quorum: must be an array of rules {agent, paths, approvals}');
  else list.forEach((r, i) => {
    const w = `quorum[${i}]`;
    if (!isObject(r)) { problems.push(`${w}: must be an object {agent, paths, approvals}`); return; }
    for (const k of Object.keys(r)) if (!RULE_KEYS.includes(k)) problems.push(`${w}: unknown key ${JSON.stringify(k)} (allowed: ${RULE_KEYS.join(', ')})`);
    const agent = r.agent ?? '*';
    if (typeof agent !== 'string' || (agent !== '*' && !NAME_PATTERN.test(agent))) problems.push(`${w}.agent: must be an agent name or "*", got ${JSON.stringify(agent)}`);
    const paths = r.paths ?? [];
    if (!Array.isArray(paths) || paths.some((p) => typeof p !== 'string' || !p || p.startsWith('/') || p.length > 500)) problems.push(`${w}.paths: must be an array of paths or globs relative to the repo root (e.g. "agent.nix", "nix/**")`);
    const n = r.approvals;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_APPROVALS) problems.push(`${w}.approvals: must be a whole number from 1 to ${MAX_APPROVALS}, got ${JSON.stringify(n)}`);
    rules.push({ agent: String(agent), paths: Array.isArray(paths) ? paths.map(String) : [], approvals: typeof n === 'number' ? n : 1 });
  });
  if (problems.length) throw new HyperhiveError('bad_request', `${file} is invalid: ${problems.join('; ')}`, { problems });
  return { quorum: rules };
}

export function parseQuorumRules(text: string, file = 'policy.json'): QuorumRules {
  let value: unknown;
  try { value = JSON.parse(text); } catch (e) { throw new HyperhiveError('bad_request', `${file} is not valid JSON: ${(e as Error).message}`); }
  return validateQuorumRules(value, file);
}

export interface QuorumFor { required: number; rules: QuorumRule[] }

/** How many distinct operators a request needs under the rules, and which rules say so. Pure. */
export function quorumFor(rules: QuorumRules, r: { agent: string; kind: ApprovalKind; paths: readonly string[] }): QuorumFor {
  if (r.kind === 'tool') return { required: 1, rules: [] };
  const applying = rules.quorum.filter((q) => (q.agent === '*' || q.agent === r.agent)
    && (q.paths.length === 0 || q.paths.some((g) => { const re = globToRegExp(g); return r.paths.some((p) => re.test(p)); })));
  return { required: Math.max(1, ...applying.map((q) => q.approvals)), rules: applying };
}
