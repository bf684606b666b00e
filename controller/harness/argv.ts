export interface TurnArgvInput {
  prompt: string;
  model: string;
  mcpConfigFile: string;
  systemPrompt: string;
  allow: string[];
  deny: string[];
  resume?: string;
}

/**
 * The CLI's argv for one turn. The tool lists are variadic options: one argv element
 * per pattern (a pattern such as `Bash(git *)` keeps its space), and an empty list is
 * left out, since a bare `--allowedTools` would swallow the next option's name.
 * The prompt comes right after -p so no variadic option can take it.
 */
export function buildTurnArgv(i: TurnArgvInput): string[] {
  if (i.prompt.startsWith('-')) throw new Error('turn prompt must not start with "-" (the CLI would read it as an option)');
  const argv = [
    '-p', i.prompt,
    '--output-format', 'stream-json',
    '--verbose',
    '--model', i.model,
    '--mcp-config', i.mcpConfigFile,
    '--strict-mcp-config',
    '--append-system-prompt', i.systemPrompt,
  ];
  if (i.allow.length) argv.push('--allowedTools', ...i.allow);
  if (i.deny.length) argv.push('--disallowedTools', ...i.deny);
  if (i.resume) argv.push('--resume', i.resume);
  return argv;
}
