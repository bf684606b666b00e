import crypto from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import headlessPkg from '@xterm/headless';
import serializePkg from '@xterm/addon-serialize';
import type { WebSocket } from 'ws';
import type { Identity } from '../../controller/auth/identity.ts';
import type { PtyHandle } from '../../controller/runtime/types.ts';
import { FlowControl, type Watermarks } from './flow.ts';
import { SlashLine, type LineAction } from './line.ts';
import { CLOSE, parseClientMessage, type EndReason, type Role, type ServerMessage, type ViewerInfo } from './protocol.ts';

// The packages are CommonJS bundles: their classes come off the default export.
const { Terminal: HeadlessTerminal } = headlessPkg as unknown as typeof import('@xterm/headless');
const { SerializeAddon } = serializePkg as unknown as typeof import('@xterm/addon-serialize');
type Headless = InstanceType<typeof HeadlessTerminal>;

export interface SessionOptions {
  /** Bytes of screen and scrollback a reconnecting viewer gets back (default 1 MiB). */
  scrollbackBytes: number;
  /** No keystroke for this long ends the session (default 15 min). */
  idleMs: number;
  /** A viewer above the high watermark for this long is dropped, so one stuck tab cannot hold the PTY paused. */
  stallMs: number;
  /** WebSocket pings this often; a viewer that missed one is gone. */
  pingMs: number;
  marks: Watermarks;
  /** A viewer whose socket buffers more than this is dropped at once. */
  maxBufferedBytes: number;
}

export interface SessionDeps {
  agent: string;
  revision: string | null;
  runtime: { kind: string; isolated: boolean; note: string };
  pty: PtyHandle;
  cols: number;
  rows: number;
  options: SessionOptions;
  isCommand: (word: string) => boolean;
  /** Runs a slash command typed at the prompt as `who`; resolves to the line to show. */
  runCommand: (line: string, who: Identity) => Promise<{ ok: boolean; message: string }>;
  audit: (action: string, who: string, data: Record<string, unknown>) => void;
  log: (message: string, data?: Record<string, unknown>) => void;
  onEnd: (s: TerminalSession) => void;
  now?: () => number;
}

interface Viewer {
  id: string;
  who: Identity;
  ws: WebSocket;
  role: Role;
  since: number;
  /** Output that came while the viewer's screen was being restored: sent right after it. */
  backlog: Buffer[] | null;
  alive: boolean;
  lastNotice: number;
}

const SCREEN = 'screen';
const span = (ms: number): string => (ms >= 60_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 1000)} s`);
const say = (text: string, ok = true): string => `\r\n\x1b[1;${ok ? 36 : 31}mhyperhive:\x1b[0m ${text.replace(/\r?\n/g, '\r\n')}`;

/**
 * One PTY into an agent and everyone watching it: one writer, any number of read-only viewers. The
 * output goes to each viewer and to a headless terminal whose screen and scrollback a (re)connecting
 * viewer gets first. Flow control pauses the PTY while the slowest of them is behind.
 */
export class TerminalSession {
  readonly id = crypto.randomBytes(9).toString('base64url');
  readonly startedAt: number;
  private viewers = new Map<string, Viewer>();
  private writer: string | null = null;
  private readonly screen: Headless;
  private readonly serializer: InstanceType<typeof SerializeAddon>;
  private readonly scrollbackLines: number;
  private readonly flow: FlowControl;
  private readonly line: SlashLine;
  private readonly decoder = new StringDecoder('utf8');
  private input: Promise<void> = Promise.resolve();
  private idleTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout;
  private ended: { reason: EndReason; message: string } | null = null;
  private cols: number;
  private rows: number;
  private openedBy: string | null = null;
  private readonly now: () => number;
  /** Why the PTY will end, when the manager knows before it does (a new revision is being applied). */
  endHint: { reason: EndReason; message: string } | null = null;
  /** Bytes of output so far (tests and the log). */
  outputBytes = 0;

  constructor(private readonly d: SessionDeps) {
    this.now = d.now ?? Date.now;
    this.startedAt = this.now();
    this.cols = d.cols;
    this.rows = d.rows;
    this.scrollbackLines = Math.max(100, Math.floor(d.options.scrollbackBytes / Math.max(this.cols, 40)));
    this.screen = new HeadlessTerminal({ cols: this.cols, rows: this.rows, scrollback: this.scrollbackLines, allowProposedApi: true });
    this.serializer = new SerializeAddon();
    this.screen.loadAddon(this.serializer);
    this.flow = new FlowControl(d.options.marks, this.now);
    this.flow.add(SCREEN);
    this.line = new SlashLine(d.isCommand);
    d.pty.onData((chunk) => this.output(Buffer.from(chunk)));
    d.pty.onExit((e) => {
      const hint = this.endHint;
      this.end(hint?.reason ?? 'exited', hint?.message ?? `the shell exited (${e.signal ? `signal ${e.signal}` : `code ${e.code}`})`);
    });
    this.pingTimer = setInterval(() => this.tick(), d.options.pingMs);
    this.pingTimer.unref();
    this.touch();
  }

  get agent(): string { return this.d.agent; }
  get revision(): string | null { return this.d.revision; }
  get over(): boolean { return this.ended !== null; }
  get paused(): boolean { return this.flow.paused; }
  get viewerCount(): number { return this.viewers.size; }
  viewerList(): ViewerInfo[] { return [...this.viewers.values()].map((v) => ({ id: v.id, who: v.who.name, role: v.role, since: v.since })); }

  /** A viewer joins: the writer if nobody has the keyboard; gets the screen so far, then the live output. */
  attach(ws: WebSocket, who: Identity): void {
    if (this.ended) { this.refuse(ws, this.ended); return; }
    const v: Viewer = { id: crypto.randomBytes(6).toString('base64url'), who, ws, role: this.writer ? 'reader' : 'writer', since: this.now(), backlog: [], alive: true, lastNotice: 0 };
    if (v.role === 'writer') this.writer = v.id;
    this.viewers.set(v.id, v);
    this.flow.add(v.id);
    if (!this.openedBy) {
      this.openedBy = who.name;
      this.d.audit('terminal-open', who.name, { session: this.id, runtime: this.d.runtime.kind, revision: this.d.revision });
      this.d.log(`terminal session ${this.id} into ${this.d.agent} opened by ${who.name}`, { session: this.id });
    }
    this.d.audit('terminal-attach', who.name, { session: this.id, viewer: v.id, role: v.role });
    ws.on('message', (data, isBinary) => this.onMessage(v, data as Buffer, isBinary));
    ws.on('pong', () => { v.alive = true; });
    ws.on('close', () => this.detach(v));
    ws.on('error', () => this.detach(v));
    // Everything the screen has parsed up to this marker is in the restore; what comes after it, in the backlog.
    this.screen.write('', () => {
      if (!this.viewers.has(v.id)) return;
      const restore = Buffer.from(this.serialize(), 'utf8');
      this.send(v, this.hello(v, restore.length));
      if (restore.length) this.sendBytes(v, restore, true);
      const backlog = v.backlog ?? [];
      v.backlog = null;
      for (const b of backlog) this.sendBytes(v, b, false);
      this.broadcastViewers();
    });
  }

  private hello(v: Viewer, restored: number): ServerMessage {
    return {
      type: 'hello', session: this.id, agent: this.d.agent, viewer: v.id, role: v.role, writer: this.writerName(), viewers: this.viewerList(),
      cols: this.cols, rows: this.rows, revision: this.d.revision, runtime: this.d.runtime.kind, isolated: this.d.runtime.isolated, note: this.d.runtime.note,
      idleMs: this.d.options.idleMs, restored,
    };
  }

  /** The screen and as much scrollback as fits the byte budget. */
  private serialize(): string {
    let lines = this.scrollbackLines;
    let out = this.serializer.serialize({ scrollback: lines });
    for (let i = 0; i < 6 && out.length > this.d.options.scrollbackBytes && lines > 0; i++) {
      lines = Math.floor(lines * (this.d.options.scrollbackBytes / out.length) * 0.9);
      out = this.serializer.serialize({ scrollback: lines });
    }
    return out;
  }

  private writerName(): string | null { return this.writer ? this.viewers.get(this.writer)?.who.name ?? null : null; }

  private onMessage(v: Viewer, data: Buffer, isBinary: boolean): void {
    if (this.ended) return;
    if (isBinary) { this.keystrokes(v, data); return; }
    const m = parseClientMessage(data.toString('utf8'));
    if (!m) return;
    if (m.type === 'ack') this.apply(this.flow.acked(v.id, m.bytes));
    else if (m.type === 'take') this.setWriter(v);
    else if (m.type === 'resize' && v.id === this.writer) this.resize(m.cols, m.rows);
  }

  private keystrokes(v: Viewer, data: Buffer): void {
    if (v.id !== this.writer) {
      // Read-only: the keys go nowhere, and the viewer is told why (not on every key).
      if (this.now() - v.lastNotice > 3000) {
        v.lastNotice = this.now();
        this.send(v, { type: 'notice', message: `read-only: ${this.writerName() ?? 'nobody'} has the keyboard; take control to type` });
      }
      return;
    }
    this.touch();
    const text = this.decoder.write(data);
    if (!text) return;
    const actions = this.line.feed(text, () => this.d.pty.atPrompt?.() ?? false);
    this.input = this.input.then(() => this.perform(actions, v.who)).catch(() => undefined);
  }

  private async perform(actions: LineAction[], who: Identity): Promise<void> {
    for (const a of actions) {
      if (this.ended) return;
      if ('pty' in a) this.d.pty.write(a.pty);
      else if ('echo' in a) this.output(Buffer.from(a.echo, 'utf8'));
      else {
        const r = await this.d.runCommand(a.run, who).catch((e: Error) => ({ ok: false, message: e.message }));
        this.d.log(`terminal ${this.id}: ${who.name} ran ${a.run.split(/\s+/)[0]} in ${this.d.agent}'s terminal: ${r.ok ? 'ok' : 'refused'}`, { session: this.id });
        this.output(Buffer.from(say(r.message, r.ok), 'utf8'));
        // An empty line for the shell: it prints a fresh prompt under the answer.
        this.d.pty.write('\r');
      }
    }
  }

  private setWriter(v: Viewer): void {
    if (this.writer === v.id) return;
    const old = this.writer ? this.viewers.get(this.writer) : undefined;
    if (old) old.role = 'reader';
    v.role = 'writer';
    this.writer = v.id;
    this.d.audit('terminal-take', v.who.name, { session: this.id, viewer: v.id, from: old?.who.name ?? null });
    for (const x of this.viewers.values()) this.send(x, { type: 'role', role: x.role, writer: this.writerName() });
    this.broadcastViewers();
    this.resize(this.cols, this.rows);
  }

  private resize(cols: number, rows: number): void {
    if (cols !== this.cols || rows !== this.rows) {
      this.cols = cols; this.rows = rows;
      this.d.pty.resize(cols, rows);
      this.screen.resize(cols, rows);
    }
    for (const x of this.viewers.values()) if (x.id !== this.writer) this.send(x, { type: 'size', cols, rows });
  }

  /** Terminal bytes to every viewer and the screen (PTY output and the prompt line's echo alike). */
  private output(chunk: Buffer): void {
    if (this.ended || !chunk.length) return;
    this.outputBytes += chunk.length;
    const n = chunk.length;
    this.screen.write(chunk, () => this.apply(this.flow.acked(SCREEN, n)));
    for (const v of this.viewers.values()) {
      if (v.backlog) v.backlog.push(chunk);
      else this.sendBytes(v, chunk, false);
    }
    this.apply(this.flow.sent(n));
  }

  private sendBytes(v: Viewer, chunk: Buffer, counted: boolean): void {
    if (v.ws.readyState !== v.ws.OPEN) return;
    if (v.ws.bufferedAmount > this.d.options.maxBufferedBytes) { this.drop(v); return; }
    v.ws.send(chunk, { binary: true });
    // Live output was counted for every sink when it came; a restore only for this one.
    if (counted) this.apply(this.flow.sentTo(v.id, chunk.length));
  }

  private send(v: Viewer, m: ServerMessage): void {
    if (v.ws.readyState === v.ws.OPEN) v.ws.send(JSON.stringify(m));
  }

  private broadcastViewers(): void {
    const m: ServerMessage = { type: 'viewers', viewers: this.viewerList(), writer: this.writerName() };
    for (const v of this.viewers.values()) if (!v.backlog) this.send(v, m);
  }

  private apply(d: 'pause' | 'resume' | null): void {
    if (d === 'pause') this.d.pty.pause();
    else if (d === 'resume') this.d.pty.resume();
  }

  private tick(): void {
    for (const v of this.viewers.values()) {
      if (!v.alive) { v.ws.terminate(); this.detach(v); continue; }
      v.alive = false;
      try { v.ws.ping(); } catch { /* closing */ }
    }
    for (const id of this.flow.stalled(this.d.options.stallMs)) {
      const v = this.viewers.get(id);
      if (v) this.drop(v);
    }
  }

  /** A viewer that cannot keep up: it goes (with the reason), so the others and the PTY go on. */
  private drop(v: Viewer): void {
    this.send(v, { type: 'ended', reason: 'slow', message: `this viewer did not keep up with the output for ${Math.round(this.d.options.stallMs / 1000)} s and was disconnected; reconnect to see the screen` });
    v.ws.close(CLOSE.tooSlow, 'too slow');
    this.detach(v);
  }

  private detach(v: Viewer): void {
    if (!this.viewers.delete(v.id)) return;
    this.apply(this.flow.remove(v.id));
    this.d.audit('terminal-detach', v.who.name, { session: this.id, viewer: v.id, durationMs: this.now() - v.since });
    if (this.writer === v.id) {
      // The keyboard goes to whoever has watched longest.
      const next = [...this.viewers.values()].sort((a, b) => a.since - b.since)[0];
      this.writer = next?.id ?? null;
      if (next) { next.role = 'writer'; this.send(next, { type: 'role', role: 'writer', writer: next.who.name }); }
      for (const x of this.viewers.values()) if (x !== next) this.send(x, { type: 'role', role: x.role, writer: this.writerName() });
    }
    this.broadcastViewers();
  }

  private touch(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.end('idle', `the session ended after ${span(this.d.options.idleMs)} without a keystroke; open the terminal again for a new one`), this.d.options.idleMs);
    this.idleTimer.unref();
  }

  private refuse(ws: WebSocket, e: { reason: EndReason; message: string }): void {
    ws.send(JSON.stringify({ type: 'ended', reason: e.reason, message: e.message } satisfies ServerMessage));
    ws.close(CLOSE.ended, e.reason);
  }

  /** Ends the session: every viewer is told why, the PTY and the screen go. */
  end(reason: EndReason, message: string): void {
    if (this.ended) return;
    this.ended = { reason, message };
    clearInterval(this.pingTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    for (const v of [...this.viewers.values()]) {
      this.send(v, { type: 'ended', reason, message });
      v.ws.close(reason === 'shutdown' ? CLOSE.goingAway : CLOSE.ended, reason);
      this.detach(v);
    }
    try { this.d.pty.kill('SIGHUP'); } catch { /* gone */ }
    this.screen.dispose();
    this.d.audit('terminal-close', this.openedBy ?? 'system', { session: this.id, reason, message, durationMs: this.now() - this.startedAt, outputBytes: this.outputBytes });
    this.d.log(`terminal session ${this.id} into ${this.d.agent} ended (${reason}): ${message}`, { session: this.id, reason });
    this.d.onEnd(this);
  }
}
