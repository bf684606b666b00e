// Tool patterns in the claude CLI's grammar, matched the way the CLI reads them, so that what an
// agent's surface allows or denies here is what the CLI itself would: `Tool` (any call of it; `*` in
// a name is a wildcard, and `mcp__server` covers the server's tools), `Bash(cmd)` (a command pattern:
// `*` any text, a trailing ` *` or the older `:*` also matching the bare command, compound commands
// checked part by part), `Edit(path)` / `Read(path)` (path globs; Edit covers every file-editing
// tool), `WebFetch(domain:host)`.

export interface ToolCall { name: string; input: unknown; /** The agent CLI's working directory, for relative path rules. */ cwd?: string }

export const FILE_EDIT_TOOLS = ['Edit', 'Write', 'MultiEdit', 'NotebookEdit'];
const FILE_READ_TOOLS = ['Read', 'Glob', 'Grep', 'LS'];
const PATTERN = /^([A-Za-z0-9_*-]+)(?:\((.*)\))?$/s;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const escape = (s: string): string => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');

export function parsePattern(p: string): { tool: string; spec: string | null } | null {
  const m = PATTERN.exec(p.trim());
  return m ? { tool: m[1]!, spec: m[2] ?? null } : null;
}

/** A tool name pattern: `*` wildcards; `mcp__server` (two parts) covers every tool of that server. */
export function toolNameMatches(pattern: string, name: string): boolean {
  if (pattern === name) return true;
  if (/^mcp__[^_]+(?:_[^_]+)*$/.test(pattern) && !pattern.slice(5).includes('__') && name.startsWith(`${pattern}__`)) return true;
  if (!pattern.includes('*')) return false;
  return new RegExp(`^${pattern.split('*').map(escape).join('.*')}$`).test(name);
}

/** One simple command against a Bash command pattern. */
export function commandMatches(spec: string, command: string): boolean {
  let s = spec.trim();
  const cmd = command.trim();
  // `git:*` is the older spelling of `git *`.
  if (s.endsWith(':*')) s = `${s.slice(0, -2)} *`;
  if (s.endsWith(' *')) {
    const prefix = s.slice(0, -2);
    if (!prefix.includes('*')) return cmd === prefix || cmd.startsWith(`${prefix} `);
    if (globMatch(prefix, cmd)) return true;
  }
  return globMatch(s, cmd);
}

function globMatch(spec: string, text: string): boolean {
  return new RegExp(`^${spec.split('*').map(escape).join('.*')}$`, 's').test(text);
}

/** Shell constructs whose effect no prefix pattern can vouch for: such a command is never allowed by a pattern. */
const OPAQUE = /\$\(|`|<\(|>\(|\$\{|\n/;

/**
 * The simple commands of a Bash command line (split at `&&`, `||`, `;`, `|`, `&`, newlines), quotes
 * respected; `opaque` when it holds a substitution, a redirection or another construct a pattern
 * cannot judge (such a line is asked about, never allowed by a pattern).
 */
export function splitCommand(command: string): { parts: string[]; opaque: boolean } {
  const parts: string[] = [];
  let cur = '';
  let quote: '"' | "'" | null = null;
  // An unquoted redirection writes or reads files the command's words do not name.
  let redirect = false;
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (quote) { cur += c; if (c === quote) quote = null; else if (c === '\\' && quote === '"') cur += command[++i] ?? ''; continue; }
    if (c === '"' || c === "'") { quote = c; cur += c; continue; }
    if (c === '>' || c === '<') redirect = true;
    if (c === '\\') { cur += c + (command[++i] ?? ''); continue; }
    if (c === ';' || c === '\n' || c === '|' || c === '&') {
      if ((c === '|' || c === '&') && command[i + 1] === c) i++;
      parts.push(cur); cur = '';
      continue;
    }
    cur += c;
  }
  parts.push(cur);
  return { parts: parts.map((p) => p.trim()).filter(Boolean), opaque: OPAQUE.test(command) || quote !== null || redirect };
}

/** The file a file tool acts on. */
function filePath(input: unknown): string | null {
  if (!isObj(input)) return null;
  const p = input.file_path ?? input.notebook_path ?? input.path;
  return typeof p === 'string' ? p : null;
}

/** A path rule: `//abs` or `/abs` absolute, `~/x` under HOME (never matched here), otherwise relative to the CLI's directory. */
export function pathMatches(spec: string, file: string, cwd?: string): boolean {
  let glob: string;
  if (spec.startsWith('//')) glob = spec.slice(1);
  else if (spec.startsWith('/')) glob = spec;
  else if (spec.startsWith('~')) return false;
  else {
    const rel = spec.replace(/^\.\//, '');
    glob = cwd ? `${cwd.replace(/\/+$/, '')}/${rel}` : `**/${rel}`;
  }
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') { i++; if (glob[i + 1] === '/') { i++; re += '(?:.*/)?'; } else re += '.*'; }
    else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += escape(c);
  }
  // A directory rule covers what is under it.
  return new RegExp(`^${re}(?:/.*)?$`).test(file);
}

function hostMatches(spec: string, input: unknown): boolean {
  if (!spec.startsWith('domain:') || !isObj(input) || typeof input.url !== 'string') return false;
  const domain = spec.slice(7).toLowerCase();
  try {
    const host = new URL(input.url).hostname.toLowerCase();
    return host === domain || host.endsWith(`.${domain}`);
  } catch { return false; }
}

/**
 * Whether `pattern` matches the call. For Bash, `mode` says how compound commands count: `allow`
 * needs every part to match (and nothing opaque), `deny` any part.
 */
export function patternMatches(pattern: string, call: ToolCall, mode: 'allow' | 'deny'): boolean {
  const p = parsePattern(pattern);
  if (!p) return false;
  const family = p.tool === 'Edit' ? FILE_EDIT_TOOLS : p.tool === 'Read' ? FILE_READ_TOOLS : null;
  const nameOk = family ? family.includes(call.name) || toolNameMatches(p.tool, call.name) : toolNameMatches(p.tool, call.name);
  if (!nameOk) return false;
  if (p.spec === null || p.spec === '*' || p.spec === '') return true;
  if (call.name === 'Bash') {
    const command = isObj(call.input) && typeof call.input.command === 'string' ? call.input.command : null;
    if (command === null) return false;
    const { parts, opaque } = splitCommand(command);
    if (mode === 'deny') return commandMatches(p.spec, command) || parts.some((x) => commandMatches(p.spec!, x));
    return !opaque && parts.length > 0 && parts.every((x) => commandMatches(p.spec!, x));
  }
  if (family || FILE_EDIT_TOOLS.includes(call.name) || FILE_READ_TOOLS.includes(call.name)) {
    const f = filePath(call.input);
    return f !== null && pathMatches(p.spec, f, call.cwd);
  }
  if (call.name === 'WebFetch') return hostMatches(p.spec, call.input);
  return false;
}

export type ToolVerdict = { verdict: 'allow' | 'deny'; pattern: string } | { verdict: 'ask'; pattern: null };

/**
 * Policy first: a deny pattern denies, then an allow pattern allows, anything else asks an operator.
 * A compound Bash command is allowed only when each of its parts is allowed by some pattern. Pure.
 */
export function evaluateTool(tools: { allow: readonly string[]; deny: readonly string[] }, call: ToolCall): ToolVerdict {
  const denied = tools.deny.find((p) => patternMatches(p, call, 'deny'));
  if (denied) return { verdict: 'deny', pattern: denied };
  const allowed = tools.allow.find((p) => patternMatches(p, call, 'allow'));
  if (allowed) return { verdict: 'allow', pattern: allowed };
  const command = call.name === 'Bash' && isObj(call.input) && typeof call.input.command === 'string' ? call.input.command : null;
  if (command !== null) {
    const { parts, opaque } = splitCommand(command);
    const each = opaque || parts.length < 2 ? null : parts.map((part) => tools.allow.find((p) => patternMatches(p, { ...call, input: { ...call.input as object, command: part } }, 'allow')));
    if (each && each.every(Boolean)) return { verdict: 'allow', pattern: [...new Set(each)].join(' + ') };
  }
  return { verdict: 'ask', pattern: null };
}

/** The pattern "allow always" proposes for a call: exactly this command, this file, this host, or the tool. */
export function suggestPattern(call: ToolCall): string {
  const input = isObj(call.input) ? call.input : {};
  if (call.name === 'Bash' && typeof input.command === 'string' && !/[\n()]/.test(input.command)) return `Bash(${input.command.trim()})`;
  if (FILE_EDIT_TOOLS.includes(call.name) || FILE_READ_TOOLS.includes(call.name)) {
    const f = filePath(input);
    if (f && f.startsWith('/') && !/[()\n]/.test(f)) return `${call.name}(/${f})`;
  }
  if (call.name === 'WebFetch' && typeof input.url === 'string') {
    try { return `WebFetch(domain:${new URL(input.url).hostname})`; } catch { /* the tool */ }
  }
  return call.name;
}
