import type { Controller } from '../../controller/controller.ts';
import { positiveIntsFromEnv } from '../../controller/env-ints.ts';
import { isHyperhiveError } from '../../controller/errors.ts';
import type { ReconLog } from '../../controller/log.ts';
import { parseSlash, runSlash, SLASH_COMMANDS } from '../routes/slash.ts';
import type { SessionStore } from '../session.ts';
import { TerminalManager } from './manager.ts';
import type { SessionOptions } from './session.ts';
import { terminalUpgrade } from './upgrade.ts';

export { TerminalManager, DEFAULT_TERMINAL_OPTIONS } from './manager.ts';
export { TerminalSession, type SessionOptions } from './session.ts';
export { authorizeUpgrade, terminalUpgrade } from './upgrade.ts';
export * from './protocol.ts';

export interface Terminal {
  manager: TerminalManager;
  /** The HTTP server's `upgrade` listener. */
  upgrade: ReturnType<typeof terminalUpgrade>;
  close(): void;
}

const COMMANDS = new Set(SLASH_COMMANDS.map((c) => `/${c.name}`));

/** The terminal wired to the controller: PTYs through its facade, slash commands as on the agent page, audit rows. */
export function createTerminal(o: { controller: Controller; log: ReconLog; sessions: SessionStore; options?: Partial<SessionOptions> }): Terminal {
  const c = o.controller;
  const manager = new TerminalManager({
    openPty: (agent, size) => c.openTerminal(agent, size),
    agent: (name) => c.getAgent(name),
    events: c.events,
    audit: (e) => o.log.audit(e),
    log: (agent, m, data) => o.log.info(agent, 'terminal', m, data),
    isCommand: (word) => COMMANDS.has(word.toLowerCase()),
    runCommand: async (agent, line, who) => {
      try { return { ok: true, message: (await runSlash(c, agent, parseSlash(line), who)).message }; } catch (e) {
        if (isHyperhiveError(e)) return { ok: false, message: e.message };
        throw e;
      }
    },
    options: o.options,
  });
  return { manager, upgrade: terminalUpgrade({ manager, authenticate: (t) => c.authenticate(t), sessions: o.sessions }), close: () => manager.close() };
}

/** $HYPERHIVE_TERMINAL_IDLE_MS and $HYPERHIVE_TERMINAL_SCROLLBACK_BYTES (serve's environment). */
export function terminalOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<SessionOptions> {
  return positiveIntsFromEnv(env, { HYPERHIVE_TERMINAL_IDLE_MS: 'idleMs', HYPERHIVE_TERMINAL_SCROLLBACK_BYTES: 'scrollbackBytes' });
}
