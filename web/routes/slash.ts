import type { Identity } from '../../controller/auth/identity.ts';
import type { Controller } from '../../controller/controller.ts';
import { HyperhiveError } from '../../controller/errors.ts';
import { assertModel } from '../../controller/names.ts';

// The agent page's command line. Parsing is pure; running goes through the controller facade, so a
// slash command can do nothing the API could not.

export type SlashCommand =
  | { cmd: 'model'; model: string }
  | { cmd: 'approve' }
  | { cmd: 'suspend' }
  | { cmd: 'resume' }
  | { cmd: 'revert' }
  | { cmd: 'rollback'; rev: string };

export const SLASH_COMMANDS: { name: SlashCommand['cmd']; usage: string; help: string }[] = [
  { name: 'model', usage: '/model <name>', help: "commit the agent's model on live (next turn, no restart)" },
  { name: 'approve', usage: '/approve', help: "approve the agent's pending change request" },
  { name: 'suspend', usage: '/suspend', help: 'no applies until resumed' },
  { name: 'resume', usage: '/resume', help: 'resume applies' },
  { name: 'revert', usage: '/revert', help: "commit applied's tree on proposed (drops the unapproved change)" },
  { name: 'rollback', usage: '/rollback <rev>', help: 'propose an earlier applied revision (approved like any change)' },
];

const known = (): string => SLASH_COMMANDS.map((c) => c.usage).join(', ');

export function parseSlash(input: unknown): SlashCommand {
  if (typeof input !== 'string' || !input.trim()) throw new HyperhiveError('bad_request', `empty command; known commands: ${known()}`);
  const words = input.trim().split(/\s+/);
  const head = words[0]!;
  const args = words.slice(1);
  if (!head.startsWith('/')) throw new HyperhiveError('bad_request', `commands start with "/"; known commands: ${known()}`);
  const name = head.slice(1).toLowerCase();
  const spec = SLASH_COMMANDS.find((c) => c.name === name);
  if (!spec) throw new HyperhiveError('bad_request', `unknown command ${JSON.stringify(head.slice(0, 40))}; known commands: ${known()}`);
  const arity = spec.usage.split(' ').length - 1;
  if (args.length !== arity) {
    throw new HyperhiveError('bad_request', arity ? `${spec.usage}: expects ${arity === 1 ? 'one argument' : `${arity} arguments`}${args.length ? `, got ${args.length}` : ''}` : `${spec.usage} takes no arguments`);
  }
  switch (spec.name) {
    case 'model': assertModel(args[0]); return { cmd: 'model', model: args[0]! };
    case 'rollback': return { cmd: 'rollback', rev: args[0]! };
    default: return { cmd: spec.name } as SlashCommand;
  }
}

export interface SlashResult { message: string; approvalId?: number }

export async function runSlash(c: Controller, agent: string, cmd: SlashCommand, by: Identity): Promise<SlashResult> {
  c.requireAgent(agent);
  switch (cmd.cmd) {
    case 'model': {
      const v = await c.setModel(agent, cmd.model, by);
      return { message: `model of ${agent} set to ${v.model} on live ${v.live?.slice(0, 7) ?? ''} (takes effect on the next turn)` };
    }
    case 'approve': {
      const open = c.listApprovals({ agent, status: ['pending', 'diverged'], kind: 'change' }).at(-1);
      if (!open) throw new HyperhiveError('not_pending', `${agent} has no pending change request to approve`);
      const a = await c.approve(open.id, by);
      return { message: `request #${a.id} approved: applied → ${a.head?.slice(0, 7)}`, approvalId: a.id };
    }
    case 'suspend': await c.setSuspended(agent, true, by); return { message: `${agent} suspended: no applies until resumed` };
    case 'resume': await c.setSuspended(agent, false, by); return { message: `${agent} resumed` };
    case 'revert': {
      const r = await c.revert(agent, by);
      return { message: `proposed reverted to applied's tree (${r.commit.slice(0, 7)})` };
    }
    case 'rollback': {
      const r = await c.rollback(agent, cmd.rev, by);
      return { message: `rollback proposed as ${r.commit.slice(0, 7)}${r.approval ? `: request #${r.approval.id} waits for approval` : ''}`, approvalId: r.approval?.id };
    }
  }
}
