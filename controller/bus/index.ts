export { Bus } from './bus.ts';
export { busMigrations } from './migrations.ts';
export type { BusMessage, BusOptions, ListOptions, MessageListener, RecvOptions, SendInput } from './types.ts';
export { KIND_PATTERN, MAX_WAIT_MS, assertMailbox } from './validate.ts';
export { busLimitsFromEnv, DEFAULT_BUS_LIMITS, type BusLimits, type BusRefusal } from './limits.ts';
export { busQuotaReporter } from './quota-report.ts';
