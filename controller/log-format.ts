import type { Level } from './log.ts';

export type LogFormat = 'json' | 'text';

export interface LogLine { ts: number; level: Level; agent: string | null; event: string; message: string; data: Record<string, unknown> }

/** One JSON object per line: what a journal, a pipe or a log shipper reads. */
export function jsonLine(l: LogLine): string {
  return `${JSON.stringify({ ts: new Date(l.ts).toISOString(), level: l.level, agent: l.agent, event: l.event, msg: l.message, ...l.data })}\n`;
}

const COLOR: Record<Level, string> = { debug: '\x1b[2m', info: '', warn: '\x1b[33m', error: '\x1b[31m' };
const DIM = '\x1b[2m';
const RESET = '\x1b[0m';
// Controls in a message (an agent's text, a git error) must not drive the operator's terminal.
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/** What a person reads in a terminal: time, agent, event, message; colours when the terminal has them. */
export function textLine(l: LogLine, o: { color: boolean }): string {
  const d = new Date(l.ts);
  const time = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}:${String(d.getSeconds()).padStart(2, '0')}`;
  const who = (l.agent ?? '-').padEnd(10);
  const msg = l.message.replace(CONTROLS, ' ').replace(/\n/g, '\n    ');
  const lvl = l.level === 'info' ? '' : `${l.level.toUpperCase()} `;
  if (!o.color) return `${time} ${who} ${l.event.padEnd(18)} ${lvl}${msg}\n`;
  const c = COLOR[l.level];
  return `${DIM}${time}${RESET} ${who} ${DIM}${l.event.padEnd(18)}${RESET} ${c}${lvl}${msg}${c ? RESET : ''}\n`;
}

/** `--log-format auto` (the default): text on a terminal, JSON lines otherwise. */
export function resolveLogFormat(flag: string | undefined, isTTY: boolean): LogFormat {
  if (flag === undefined || flag === 'auto') return isTTY ? 'text' : 'json';
  if (flag === 'json' || flag === 'text') return flag;
  throw new Error(`--log-format must be auto, json or text, got ${JSON.stringify(flag)}`);
}
