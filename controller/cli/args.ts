import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Bad usage: the CLI prints it with the command's usage line and exits 2. */
export class UsageError extends Error {}

export interface FlagSpec { [name: string]: 'string' | 'boolean' }
export interface Parsed { positional: string[]; flags: Record<string, string | boolean> }

type Options = NonNullable<ParseArgsConfig['options']>;

/** node's own strict parser (`--flag value`, `--flag=value`, `--`, `-h` for `--help`); its errors become UsageErrors. */
export function parseFlags(argv: string[], spec: FlagSpec): Parsed {
  const options: Options = {};
  for (const [name, type] of Object.entries(spec)) options[name] = name === 'help' ? { type, short: 'h' } : { type };
  const { values, positionals } = parseOptions(argv, options);
  return { positional: positionals, flags: { ...values } as Record<string, string | boolean> };
}

/** The same with node's options as they are (a flag given several times, `multiple`): for commands that take their argv whole. */
export function parseOptions<O extends Options>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (e) {
    if (!(e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS_')) throw e;
    throw new UsageError(explain(argv, options) ?? (e as Error).message);
  }
}

/** node names the problem in prose of its own; a lenient pass over the same argv finds the token, for the short messages the CLI has always given. */
function explain(argv: string[], options: Options): string | null {
  const { tokens } = parseArgs({ args: argv, options, strict: false, allowPositionals: true, tokens: true });
  for (const t of tokens) {
    if (t.kind !== 'option') continue;
    const o = options[t.name];
    if (!o) return `unknown option ${t.rawName} (an argument starting with '-' goes after '--')`;
    if (o.type === 'boolean' && t.value !== undefined) return `${t.rawName} takes no value`;
    if (o.type === 'string' && t.value === undefined) return `${t.rawName} needs a value`;
    if (o.type === 'string' && !t.inlineValue && t.value?.startsWith('-')) return `${t.rawName} needs a value (got ${JSON.stringify(t.value)}; write ${t.rawName}=${t.value} if that is the value)`;
  }
  return null;
}
