export * from './types.ts';
export { TranscriptStore, type TranscriptRetention, type TurnQuery } from './store.ts';
export { Transcripts, type TranscriptsDeps } from './service.ts';
export { validateTurnEvents } from './validate.ts';
export { transcriptMigrations } from './migrations.ts';
export { transcriptRetentionFromEnv } from './env.ts';
