import type { WebSocket } from 'ws';
import type { Identity } from '../../controller/auth/identity.ts';
import { isHyperhiveError } from '../../controller/errors.ts';
import type { EventStream } from '../../controller/events.ts';
import type { PtyHandle, RuntimeEvent } from '../../controller/runtime/types.ts';
import { DEFAULT_WATERMARKS } from './flow.ts';
import { CLOSE, type ServerMessage } from './protocol.ts';
import { TerminalSession, type SessionOptions } from './session.ts';

export const DEFAULT_TERMINAL_OPTIONS: SessionOptions = {
  scrollbackBytes: 1024 * 1024,
  idleMs: 15 * 60_000,
  stallMs: 30_000,
  pingMs: 20_000,
  marks: DEFAULT_WATERMARKS,
  maxBufferedBytes: 8 * 1024 * 1024,
};

/** What the terminal needs of the controller: its facade's agent view and PTY, the event stream, the audit trail. */
export interface TerminalManagerDeps {
  openPty: (agent: string, o: { cols: number; rows: number }) => Promise<PtyHandle>;
  agent: (name: string) => Promise<{ runtime: { revision: string | null; kind: string; isolated: boolean; note: string } }>;
  events: Pick<EventStream, 'on'>;
  audit: (e: { actor: string; action: string; agent: string; data: Record<string, unknown> }) => void;
  log: (agent: string, message: string, data?: Record<string, unknown>) => void;
  isCommand: (word: string) => boolean;
  runCommand: (agent: string, line: string, who: Identity) => Promise<{ ok: boolean; message: string }>;
  options?: Partial<SessionOptions>;
}

const short = (s: string | null | undefined): string => (s ? s.slice(0, 7) : 'none');

/**
 * The terminal sessions, one per agent: a viewer joins the agent's session when one runs (so a reload
 * or a second operator sees the same screen), else opens one. Sessions end with their PTY, when idle,
 * and when the agent's revision changes or it stops, with the reason told to every viewer.
 */
export class TerminalManager {
  private sessions = new Map<string, TerminalSession>();
  private opening = new Map<string, Promise<TerminalSession>>();
  private readonly options: SessionOptions;
  private readonly off: () => void;
  private closed = false;

  constructor(private readonly d: TerminalManagerDeps) {
    this.options = { ...DEFAULT_TERMINAL_OPTIONS, ...d.options };
    this.off = d.events.on('runtime', (e) => this.onRuntime(e.event));
  }

  session(agent: string): TerminalSession | null { return this.sessions.get(agent) ?? null; }
  get size(): number { return this.sessions.size; }

  /** A viewer's socket, authenticated: attached to the agent's session, or told why not and closed. */
  async open(ws: WebSocket, agent: string, who: Identity, size: { cols: number; rows: number }): Promise<void> {
    let s: TerminalSession;
    try {
      s = await this.sessionFor(agent, size);
    } catch (e) {
      const code = isHyperhiveError(e) ? e.code : 'internal';
      const message = isHyperhiveError(e) ? e.message : `could not open a terminal into ${agent}: ${(e as Error).message}`;
      const close = code === 'agent_not_found' || code === 'not_found' ? CLOSE.notFound : code === 'invalid_name' || code === 'bad_request' ? CLOSE.badRequest : CLOSE.conflict;
      if (ws.readyState === ws.OPEN) {
        ws.send(JSON.stringify({ type: 'error', code, message } satisfies ServerMessage));
        ws.close(close, code);
      }
      return;
    }
    if (ws.readyState !== ws.OPEN) return;
    s.attach(ws, who);
  }

  private sessionFor(agent: string, size: { cols: number; rows: number }): Promise<TerminalSession> {
    const live = this.sessions.get(agent);
    if (live && !live.over) return Promise.resolve(live);
    const pending = this.opening.get(agent);
    if (pending) return pending;
    const p = (async () => {
      const view = await this.d.agent(agent);
      const pty = await this.d.openPty(agent, size);
      if (this.closed) { pty.kill('SIGHUP'); throw new Error('the controller is stopping'); }
      const s = new TerminalSession({
        agent, revision: view.runtime.revision, runtime: view.runtime, pty, cols: size.cols, rows: size.rows, options: this.options,
        isCommand: this.d.isCommand,
        runCommand: (line, who) => this.d.runCommand(agent, line, who),
        audit: (action, actor, data) => this.d.audit({ actor, action, agent, data }),
        log: (m, data) => this.d.log(agent, m, data),
        onEnd: (x) => { if (this.sessions.get(agent) === x) this.sessions.delete(agent); },
      });
      this.sessions.set(agent, s);
      return s;
    })().finally(() => this.opening.delete(agent));
    this.opening.set(agent, p);
    return p;
  }

  /** A new revision, a restart or a stop ends the agent's session, saying which. */
  private onRuntime(e: RuntimeEvent): void {
    const s = this.sessions.get(e.agent);
    if (!s || s.over) return;
    const ran = short(s.revision);
    if (e.type === 'building') {
      s.endHint = e.revision !== s.revision
        ? { reason: 'revision', message: `the agent's config changed to ${short(e.revision)} (this terminal ran in ${ran}): open the terminal again for a new session` }
        : { reason: 'revision', message: `the agent was restarted on ${ran}: open the terminal again for a new session` };
    } else if (e.type === 'build-failed') {
      s.endHint = null;
    } else if (e.type === 'applied' && e.revision !== s.revision) {
      s.end('revision', `the agent's config changed to ${short(e.revision)} (this terminal ran in ${ran}): open the terminal again for a new session`);
    } else if (e.type === 'stopped') {
      s.end('stopped', `agent ${e.agent} was stopped: the terminal ends with it`);
    }
  }

  /** The controller stops: every session ends, its viewers told so. */
  close(): void {
    this.closed = true;
    this.off();
    for (const s of [...this.sessions.values()]) s.end('shutdown', 'the controller is stopping');
    this.sessions.clear();
  }
}
