import { positiveIntsFromEnv } from '../env-ints.ts';
import type { TranscriptRetention } from './store.ts';

/** $HYPERHIVE_TRANSCRIPT_TURNS and $HYPERHIVE_TRANSCRIPT_BYTES (serve's environment). */
export function transcriptRetentionFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<TranscriptRetention> {
  return positiveIntsFromEnv(env, { HYPERHIVE_TRANSCRIPT_TURNS: 'maxTurns', HYPERHIVE_TRANSCRIPT_BYTES: 'maxBytes' });
}
