import { readFile } from 'node:fs/promises';
import type { Message } from './io.ts';

const PROMPTS_DIR = new URL('../../templates/prompts/', import.meta.url);

export async function readRolePrompt(agent: string): Promise<string> {
  return readFile(new URL(agent === 'manager' ? 'manager.md' : 'agent.md', PROMPTS_DIR), 'utf8');
}

/** prompt.md (the operator's words for this agent) + the role + the live notes. */
export function composeSystemPrompt(p: { agent: string; prompt: string; role: string; notes: string }): string {
  const parts = [
    p.prompt.trim(),
    p.role.trim(),
    `Your name is \`${p.agent}\`.`,
    '## Your notes (notes.md, from `live`; change them with write_notes)\n\n' + (p.notes.trim() || '(empty)'),
  ];
  return parts.filter(Boolean).join('\n\n') + '\n';
}

/** The turn's prompt, built from the messages; it never starts with "-" (argv safety). */
export function composeTurnPrompt(messages: Message[], opts: { freshSession?: boolean } = {}): string {
  const lines: string[] = [];
  if (opts.freshSession) {
    lines.push('Your previous conversation grew too long and was reset. Your notes (in your system prompt) are what you kept from it; carry on from them.', '');
  }
  lines.push(`You have ${messages.length} new message${messages.length === 1 ? '' : 's'}.`);
  for (const m of messages) {
    lines.push('', `--- message ${m.id} from ${m.from}${m.kind && m.kind !== 'message' ? ` (${m.kind})` : ''} at ${m.createdAt} ---`, m.body);
  }
  lines.push('', 'Reply with the hyperhive `send` tool where an answer is needed.');
  return lines.join('\n');
}
