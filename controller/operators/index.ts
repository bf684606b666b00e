export * from './service.ts';
export * from './store.ts';
export { operatorMigrations } from './migrations.ts';
