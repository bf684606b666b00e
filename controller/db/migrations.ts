// Migrations are named per module ("core-1", "bus-1", …) so modules never fight over numbers;
// they apply in this list's order, once each, recorded in the `migrations` table.
import { coreMigrations } from './core-migrations.ts';
import { busMigrations } from '../bus/migrations.ts';
import { statsMigrations } from '../stats/migrations.ts';
import { transcriptMigrations } from '../transcripts/migrations.ts';
import { operatorMigrations } from '../operators/migrations.ts';
import { webhookMigrations } from '../webhooks/migrations.ts';
import { agentMigrations } from '../agents/migrations.ts';

export interface Migration { name: string; sql: string }

export const migrations: Migration[] = [
  ...coreMigrations,
  ...busMigrations,
  ...statsMigrations,
  ...transcriptMigrations,
  ...operatorMigrations,
  ...webhookMigrations,
  ...agentMigrations,
];
