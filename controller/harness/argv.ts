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
 * The CLI's argv for one turn. The prompt does not go in argv: the CLI reads the turn as stream-json
 * on stdin (`--input-format stream-json`, see `turnInput`), and asks the harness about every tool call
 * its rules do not decide with a `control_request` (`--permission-prompt-tool stdio`), which the
 * harness answers on stdin once the controller (an operator, or the timeout) has. The tool lists are
 * variadic options: one argv element per pattern (a pattern such as `Bash(git *)` keeps its space),
 * and an empty list is left out, since a bare `--allowedTools` would swallow the next option's name.
 */
export function buildTurnArgv(i: TurnArgvInput): string[] {
  if (i.prompt.startsWith('-')) throw new Error('turn prompt must not start with "-" (the CLI would read it as an option)');
  const argv = [
    '-p',
    '--input-format', 'stream-json',
    '--output-format', 'stream-json',
    '--verbose',
    '--permission-prompt-tool', 'stdio',
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

/** The turn's prompt as the one stream-json user message the CLI reads on stdin. */
export function turnInput(prompt: string): string {
  return `${JSON.stringify({ type: 'user', message: { role: 'user', content: prompt } })}\n`;
}
