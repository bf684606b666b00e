import test from 'ava';
import { EventEmitter } from 'node:events';
import { HyperhiveError } from '../../controller/errors.ts';
import { EventStream } from '../../controller/events.ts';
import type { PtyHandle } from '../../controller/runtime/types.ts';
import { TerminalManager } from '../../web/terminal/manager.ts';
import type { ServerMessage } from '../../web/terminal/protocol.ts';
import { waitFor } from '../helpers/wait.ts';

// The terminal's session manager on stand-ins (a scripted PTY, sockets in memory): what a runtime
// that cannot exec answers, keep-alive, and the ends the runtime's events cause.

class FakeSocket extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  sent: (ServerMessage | Buffer)[] = [];
  closedWith: { code: number; reason: string } | null = null;
  terminated = false;
  pings = 0;
  send(d: string | Buffer) { this.sent.push(typeof d === 'string' ? JSON.parse(d) : d); }
  close(code: number, reason: string) { this.closedWith = { code, reason }; this.readyState = 3; this.emit('close'); }
  terminate() { this.terminated = true; this.readyState = 3; this.emit('close'); }
  ping() { this.pings++; }
  bufferedAmount = 0;
  messages(): ServerMessage[] { return this.sent.filter((m): m is ServerMessage => !Buffer.isBuffer(m)); }
}

function fakePty() {
  const data = new Set<(c: Uint8Array) => void>();
  const exit = new Set<(e: { code: number | null; signal: string | null }) => void>();
  const written: string[] = [];
  const h: PtyHandle & { emit(s: string): void; exit(code: number): void; written: string[]; paused: boolean; killed: string | null } = {
    pid: 1, written, paused: false, killed: null,
    write: (d) => { written.push(typeof d === 'string' ? d : Buffer.from(d).toString()); },
    resize: () => {}, pause: () => { h.paused = true; }, resume: () => { h.paused = false; },
    onData: (fn) => { data.add(fn); return () => data.delete(fn); },
    onExit: (fn) => { exit.add(fn); return () => exit.delete(fn); },
    kill: (sig) => { h.killed = sig ?? 'SIGHUP'; for (const f of exit) f({ code: null, signal: 'SIGHUP' }); },
    atPrompt: () => true,
    emit: (s) => { for (const f of data) f(Buffer.from(s)); },
    exit: (code) => { for (const f of exit) f({ code, signal: null }); },
  };
  return h;
}

function manager(openPty: () => Promise<PtyHandle>, options = {}) {
  const events = new EventStream();
  const audit: { action: string; data: Record<string, unknown> }[] = [];
  const m = new TerminalManager({
    openPty, agent: async () => ({ runtime: { revision: 'a'.repeat(40), kind: 'fake', isolated: false, note: '' } }), events,
    audit: (e) => audit.push(e), log: () => {}, isCommand: () => false, runCommand: async () => ({ ok: true, message: '' }),
    options: { pingMs: 60_000, ...options },
  });
  return { m, events, audit };
}
const op = { kind: 'operator' as const, name: 'operator' };

test('a runtime that cannot exec: the viewer is told why and closed; no host shell is opened in its place', async (t) => {
  let tried = 0;
  const { m } = manager(async () => { tried++; throw new HyperhiveError('not_supported', 'the nspawn runtime cannot open a terminal into alice'); });
  const ws = new FakeSocket();
  await m.open(ws as never, 'alice', op, { cols: 80, rows: 24 });
  t.deepEqual(ws.messages(), [{ type: 'error', code: 'not_supported', message: 'the nspawn runtime cannot open a terminal into alice' }]);
  t.deepEqual(ws.closedWith, { code: 4409, reason: 'not_supported' });
  t.is(tried, 1);
  t.is(m.size, 0);
});

test('a new revision being built, then the PTY ending: the session ends saying the config changed; a stop ends it saying so', async (t) => {
  const pty = fakePty();
  const { m, events, audit } = manager(async () => pty);
  const ws = new FakeSocket();
  await m.open(ws as never, 'alice', op, { cols: 80, rows: 24 });
  await waitFor('hello', () => ws.messages().find((x) => x.type === 'hello'));
  pty.emit('hello\r\n');
  events.publish({ type: 'runtime', agent: 'alice', event: { type: 'building', agent: 'alice', revision: 'b'.repeat(40), message: '' } });
  pty.exit(129);
  const ended = ws.messages().find((x) => x.type === 'ended') as Extract<ServerMessage, { type: 'ended' }>;
  t.is(ended.reason, 'revision');
  t.regex(ended.message, /config changed to bbbbbbb \(this terminal ran in aaaaaaa\)/);
  t.is(ws.closedWith?.code, 4410);
  t.like(audit.find((a) => a.action === 'terminal-close')?.data, { reason: 'revision', outputBytes: 7 });

  const pty2 = fakePty();
  const second = manager(async () => pty2);
  const ws2 = new FakeSocket();
  await second.m.open(ws2 as never, 'alice', op, { cols: 80, rows: 24 });
  second.events.publish({ type: 'runtime', agent: 'alice', event: { type: 'stopped', agent: 'alice', revision: 'a'.repeat(40), message: '' } });
  t.regex((ws2.messages().find((x) => x.type === 'ended') as { message: string }).message, /alice was stopped/);
  t.is(pty2.killed, 'SIGHUP', 'the PTY goes with the session');
});

test('keep-alive: a viewer that misses a ping is dropped; one that answers stays', async (t) => {
  const pty = fakePty();
  const { m } = manager(async () => pty, { pingMs: 30 });
  const quiet = new FakeSocket();
  const lively = new FakeSocket();
  lively.ping = () => { lively.pings++; setImmediate(() => lively.emit('pong')); };
  await m.open(quiet as never, 'alice', op, { cols: 80, rows: 24 });
  await m.open(lively as never, 'alice', op, { cols: 80, rows: 24 });
  await waitFor('the silent viewer dropped', () => quiet.terminated);
  await waitFor('several pings answered', () => lively.pings >= 3);
  t.false(lively.terminated);
  t.is(m.session('alice')?.viewerCount, 1);
  m.close();
  t.is(lively.closedWith?.code, 1001, 'a stopping controller says it is going away');
});
