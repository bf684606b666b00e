export { StatsStore, type Point, type Series, type SeriesQuery, type StatsStoreOptions } from './store.ts';
export { statsMigrations } from './migrations.ts';
export { HarnessConditions, mergeHarnessConditions, type HarnessCondition, type HarnessReason } from './harness-conditions.ts';
export { KEYS, FAMILIES, FLEET, keyInfo, type Agg } from './keys.ts';
export { parseStatsParams, parseDuration, parseTime, type StatsParams } from './params.ts';
export { StatsService, type StatsServiceOptions, type StatsBus } from './service.ts';
