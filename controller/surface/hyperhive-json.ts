import { HyperhiveError } from '../errors.ts';

/** The agent's surface as DESIGN.md's Contract gives it; the one parser every reader of hyperhive.json uses. */
export interface McpServerSpec { command: string; args: string[]; env: Record<string, string> }
export interface HyperhiveJson {
  tools: { allow: string[]; deny: string[] };
  mcpServers: Record<string, McpServerSpec>;
  env: Record<string, string>;
  /** Where this agent runs (`serve --runtime` when absent): `process` or `nspawn`. */
  runtime?: AgentRuntime;
}

export const AGENT_RUNTIMES = ['process', 'nspawn'] as const;
export type AgentRuntime = (typeof AGENT_RUNTIMES)[number];

const TOP_KEYS = ['tools', 'mcpServers', 'env', 'runtime'];
const TOOL_KEYS = ['allow', 'deny'];
const SERVER_KEYS = ['command', 'args', 'env'];
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SERVER_NAME = /^[A-Za-z0-9_-]{1,64}$/;
// The claude CLI's tool grammar: a name, optionally with a parenthesised specifier (`Bash(git *)`).
const TOOL_PATTERN = /^[A-Za-z0-9_*-]+(\(.*\))?$/;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function unknownKeys(where: string, obj: Record<string, unknown>, allowed: string[], problems: string[]): void {
  for (const k of Object.keys(obj)) if (!allowed.includes(k)) problems.push(`${where}: unknown key ${JSON.stringify(k)} (allowed: ${allowed.join(', ')})`);
}

function stringMap(where: string, v: unknown, problems: string[], keyPattern?: RegExp): Record<string, string> {
  if (v === undefined) return {};
  if (!isObject(v)) { problems.push(`${where}: must be an object of strings`); return {}; }
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (keyPattern && !keyPattern.test(k)) problems.push(`${where}: invalid name ${JSON.stringify(k)}`);
    if (typeof val !== 'string') problems.push(`${where}.${k}: must be a string`);
    else out[k] = val;
  }
  return out;
}

function patterns(where: string, v: unknown, problems: string[]): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) { problems.push(`${where}: must be an array of tool patterns`); return []; }
  const out: string[] = [];
  v.forEach((p, i) => {
    if (typeof p !== 'string' || !TOOL_PATTERN.test(p)) problems.push(`${where}[${i}]: ${JSON.stringify(p)} is not a tool pattern (e.g. "Edit", "Bash(git *)", "mcp__server__tool")`);
    else out.push(p);
  });
  return out;
}

/** Validates an already-parsed value; throws one error listing every problem found. */
export function validateHyperhiveJson(value: unknown, file = 'hyperhive.json'): HyperhiveJson {
  const problems: string[] = [];
  if (!isObject(value)) throw new HyperhiveError('bad_request', `${file}: must be a JSON object with keys ${TOP_KEYS.join(', ')}`);
  unknownKeys(file, value, TOP_KEYS, problems);
  let tools = { allow: [] as string[], deny: [] as string[] };
  if (value.tools !== undefined) {
    if (!isObject(value.tools)) problems.push(`${file}: tools must be an object {allow, deny}`);
    else {
      unknownKeys(`${file}: tools`, value.tools, TOOL_KEYS, problems);
      tools = { allow: patterns('tools.allow', value.tools.allow, problems), deny: patterns('tools.deny', value.tools.deny, problems) };
    }
  }
  const mcpServers: Record<string, McpServerSpec> = {};
  if (value.mcpServers !== undefined) {
    if (!isObject(value.mcpServers)) problems.push(`${file}: mcpServers must be an object`);
    else for (const [name, spec] of Object.entries(value.mcpServers)) {
      const w = `mcpServers.${name}`;
      if (!SERVER_NAME.test(name)) problems.push(`${w}: invalid server name`);
      if (name === 'hyperhive') problems.push(`${w}: the name "hyperhive" is the controller's own server`);
      if (!isObject(spec)) { problems.push(`${w}: must be an object {command, args, env}`); continue; }
      unknownKeys(w, spec, SERVER_KEYS, problems);
      if (typeof spec.command !== 'string' || spec.command.length === 0) problems.push(`${w}.command: must be a non-empty string`);
      const args = spec.args === undefined ? [] : spec.args;
      if (!Array.isArray(args) || args.some((a) => typeof a !== 'string')) problems.push(`${w}.args: must be an array of strings`);
      mcpServers[name] = { command: String(spec.command), args: Array.isArray(args) ? args.map(String) : [], env: stringMap(`${w}.env`, spec.env, problems, ENV_NAME) };
    }
  }
  const env = stringMap('env', value.env, problems, ENV_NAME);
  const runtime = value.runtime;
  if (runtime !== undefined && !(AGENT_RUNTIMES as readonly unknown[]).includes(runtime)) problems.push(`runtime: must be one of ${AGENT_RUNTIMES.join(', ')}, got ${JSON.stringify(runtime)}`);
  if (problems.length) throw new HyperhiveError('bad_request', `${file} is invalid: ${problems.join('; ')}`, { problems });
  return { tools, mcpServers, env, ...(runtime !== undefined ? { runtime: runtime as AgentRuntime } : {}) };
}

/** Parses the file's text; bad JSON is named with the parser's own position message. */
export function parseHyperhiveJson(text: string, file = 'hyperhive.json'): HyperhiveJson {
  let value: unknown;
  try { value = JSON.parse(text); } catch (e) {
    throw new HyperhiveError('bad_request', `${file} is not valid JSON: ${(e as Error).message}`);
  }
  return validateHyperhiveJson(value, file);
}
