import type { ParsedStream } from './stream.ts';

export type TurnClass = 'ok' | 'context-overflow' | 'auth' | 'failure' | 'hung';
export interface TurnOutcome {
  stream: ParsedStream;
  /** null when the process was killed by a signal or never started. */
  exitCode: number | null;
  /** Killed by the harness because it printed nothing for too long. */
  killedForSilence: boolean;
  /** The tail of stderr: the CLI prints some failures only there. */
  stderr?: string;
  /** Set when the CLI could not be started at all (e.g. ENOENT). */
  spawnError?: string;
}
export interface Classification { class: TurnClass; reason: string }

const OVERFLOW_CODES = new Set(['prompt_too_long', 'blocking_limit']);
const OVERFLOW_TEXT = /prompt is too long/i;
const AUTH_CODES = new Set(['authentication_failed', 'not_logged_in', 'oauth_token_expired', 'invalid_api_key']);
const AUTH_TEXT = /not logged in|please run \/login|invalid api key|authentication[_ ]failed|oauth token (has )?expired/i;

const firstLine = (s: string): string => s.split('\n').find((l) => l.trim() !== '')?.trim().slice(0, 500) ?? '';

/**
 * One turn's class from what the CLI printed, how it ended and whether the harness
 * killed it. The exit code alone decides nothing: the real CLI exits 1 on a result it
 * reports as `success`+is_error, and a crash may exit 0 without any result.
 */
export function classifyTurn(o: TurnOutcome): Classification {
  const { stream: s } = o;
  const r = s.result;
  if (o.spawnError) return { class: 'failure', reason: o.spawnError };
  if (o.killedForSilence && !r) return { class: 'hung', reason: 'no output from the agent CLI for too long: killed' };
  if (r && !r.isError && r.subtype === 'success') {
    return { class: 'ok', reason: o.killedForSilence ? 'result received, then the CLI went silent without exiting: killed' : 'ok' };
  }

  const codes = [r?.subtype, r?.terminalReason, r?.stopReason, ...(r?.errors ?? []), ...s.assistantErrors]
    .filter((c): c is string => typeof c === 'string');
  // Texts are checked only for turns that did not succeed: a healthy turn may well talk about these words.
  const texts = [r?.result ?? '', ...(r?.errors ?? []), ...s.assistantText.slice(-3), o.stderr ?? ''];

  const overflowCode = codes.find((c) => OVERFLOW_CODES.has(c));
  if (overflowCode) return { class: 'context-overflow', reason: overflowCode };
  const overflowText = texts.find((t) => OVERFLOW_TEXT.test(t));
  if (overflowText) return { class: 'context-overflow', reason: firstLine(overflowText) };

  const authCode = codes.find((c) => AUTH_CODES.has(c));
  const authText = texts.find((t) => AUTH_TEXT.test(t));
  if (authCode || authText || r?.apiErrorStatus === 401) {
    return { class: 'auth', reason: firstLine(authText ?? '') || authCode || 'authentication failed (401)' };
  }

  if (r) {
    const why = firstLine(r.result ?? '') || r.errors.map(firstLine).find(Boolean) || r.terminalReason || r.subtype;
    return { class: 'failure', reason: `turn failed: ${why}` };
  }
  // The last stderr line usually names what killed it.
  const tail = (o.stderr ?? '').split('\n').filter((l) => l.trim()).pop()?.trim().slice(0, 500) ?? '';
  const how = o.exitCode === null ? 'was killed' : `exited with ${o.exitCode}`;
  return { class: 'failure', reason: `agent CLI ${how} without a result${tail ? `: ${tail}` : ''}` };
}
