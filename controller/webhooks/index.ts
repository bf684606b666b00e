export * from './service.ts';
export * from './store.ts';
export * from './sign.ts';
export * from './payload.ts';
export { webhookMigrations } from './migrations.ts';
