import type { Identity } from '../auth/index.ts';
import { toolData } from '../approvals/kinds/tool.ts';
import type { Approval } from '../approvals/store.ts';
import { HyperhiveError } from '../errors.ts';
import { parseHyperhiveJson, validateHyperhiveJson } from '../surface/index.ts';
import { parsePattern, patternMatches, suggestPattern } from '../tools/pattern.ts';
import { readFileAt } from '../../repos/read.ts';
import { readRefs } from '../../repos/refs.ts';
import { checkConfigRevision } from '../config-check.ts';
import { short, type OpDeps } from './deps.ts';

export interface AllowToolDeps extends OpDeps {
  approve: (id: number, by: Identity, note?: string) => Promise<Approval>;
  proposeFiles: (name: string, files: Record<string, string | null>, message: string, who: Identity) => Promise<string>;
}

export interface AllowAlways {
  pattern: string; commit: string; request: number | null;
  /** Whether the proposed config's evaluated surface allows the pattern (false: agent.nix does not take it from hyperhive.json). */
  effective: boolean | null;
}

/** hyperhive.json's text with `pattern` added to tools.allow (other keys and their order kept). Pure. */
export function withAllowed(text: string | null, pattern: string): string {
  const value = text === null ? {} : JSON.parse(text) as Record<string, unknown>;
  if (text !== null) parseHyperhiveJson(text);
  const tools = (value.tools ?? {}) as { allow?: string[]; deny?: string[] };
  const allow = tools.allow ?? [];
  if (allow.includes(pattern)) throw new HyperhiveError('conflict', `${pattern} is already in tools.allow on proposed (an approved change with it may still be waiting: see the approval queue)`);
  const next = { ...value, tools: { ...tools, allow: [...allow, pattern] } };
  validateHyperhiveJson(next);
  return `${JSON.stringify(next, null, 2)}\n`;
}

/**
 * Allow once, and — with `always` — propose the pattern on the agent's `proposed` (a commit by the
 * operator adding it to hyperhive.json's tools.allow), which is raised, shown and approved like any
 * change: nothing widens until that request is approved. The pattern (default: exactly this call)
 * must match the call it came from.
 */
export async function allowTool(d: AllowToolDeps, id: number, by: Identity, o: { always?: boolean; pattern?: unknown; note?: string } = {}): Promise<Approval & { always?: AllowAlways }> {
  const a = d.store.get(id);
  if (!a) throw new HyperhiveError('approval_not_found', `no request #${id}`, { id });
  if (!o.always) return d.approve(id, by, o.note);
  if (a.kind !== 'tool') throw new HyperhiveError('bad_request', `"always" is for tool requests; request #${id} is a ${a.kind} request`, { field: 'always' });
  const call = { ...toolData(a).tool, cwd: toolData(a).cwd ?? undefined };
  const pattern = o.pattern === undefined || o.pattern === '' ? suggestPattern(call) : o.pattern;
  if (typeof pattern !== 'string' || !parsePattern(pattern) || pattern.length > 2000) throw new HyperhiveError('bad_request', `pattern: ${JSON.stringify(String(pattern).slice(0, 80))} is not a tool pattern (e.g. "Bash(npm test *)", "Edit(//srv/app/**)", "WebFetch(domain:example.com)")`, { field: 'pattern' });
  if (!patternMatches(pattern, call, 'allow')) throw new HyperhiveError('bad_request', `pattern: ${pattern} does not match this call of ${call.name}, so it would not allow it next time`, { field: 'pattern' });
  // Checked before the call is allowed: a hyperhive.json that cannot take the pattern refuses both.
  const repo = d.repo(a.agent);
  const { proposed } = await readRefs(repo);
  if (!proposed) throw new HyperhiveError('conflict', `agent ${a.agent} has no proposed branch; \`hyperhive repair ${a.agent}\` restores it`);
  const current = await readFileAt(repo, proposed, 'hyperhive.json');
  withAllowed(current ? current.toString('utf8') : null, pattern);
  const done = await d.approve(id, by, o.note);
  // proposed may have moved while the vote was recorded: read it again for the commit.
  const again = await readFileAt(repo, (await readRefs(repo)).proposed!, 'hyperhive.json');
  const commit = await d.proposeFiles(a.agent, { 'hyperhive.json': withAllowed(again ? again.toString('utf8') : null, pattern) },
    `Allow ${pattern}\n\nAllowed always by ${by.name} from tool request #${id} (${call.name}).`, by);
  const open = d.store.openChange(a.agent);
  // The surface as the harness will evaluate it: agent.nix may write it in Nix and ignore hyperhive.json.
  const check = await checkConfigRevision(repo, commit).catch(() => null);
  const effective = check?.surface ? check.surface.tools.allow.includes(pattern) : null;
  const always: AllowAlways = { pattern, commit, request: open && open.head === commit ? open.id : null, effective };
  if (effective === false) d.log.warn(a.agent, 'tool-allow-always', `${pattern} was added to hyperhive.json, but ${a.agent}'s agent.nix does not take its surface from it: approving ${short(commit)} will not allow the call`, { approval: id, commit });
  d.store.update(id, { data: { ...d.store.get(id)!.data, always } });
  d.log.info(a.agent, 'tool-allow-always', `${by.name} allowed ${pattern} always for ${a.agent}: proposed as ${short(commit)}${always.request ? `, request #${always.request}` : ''} (it takes effect once approved)`, { approval: id, pattern, commit, request: always.request });
  return { ...done, data: d.store.get(id)!.data, always };
}
