import { HyperhiveError } from '../errors.ts';
import type { TranscriptRetention } from './store.ts';

/** $HYPERHIVE_TRANSCRIPT_TURNS and $HYPERHIVE_TRANSCRIPT_BYTES (serve's environment); a bad value stops the start naming it. */
export function transcriptRetentionFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<TranscriptRetention> {
  const out: Partial<TranscriptRetention> = {};
  for (const [name, key] of [['HYPERHIVE_TRANSCRIPT_TURNS', 'maxTurns'], ['HYPERHIVE_TRANSCRIPT_BYTES', 'maxBytes']] as const) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    if (!/^[1-9][0-9]*$/.test(raw.trim()) || !Number.isSafeInteger(Number(raw))) throw new HyperhiveError('bad_request', `${name} must be a positive whole number, got ${JSON.stringify(raw)}`);
    out[key] = Number(raw);
  }
  return out;
}
