export { Bus } from './bus.ts';
export { busMigrations } from './migrations.ts';
export type { BusMessage, BusOptions, ListOptions, MessageListener, RecvOptions, SendInput } from './types.ts';
export { KIND_PATTERN, MAX_WAIT_MS, assertMailbox } from './validate.ts';
