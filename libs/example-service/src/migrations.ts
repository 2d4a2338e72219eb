import { fileURLToPath } from 'node:url';
import type { PgDatabase, PgDialect, PgQueryResultHKT, PgSession } from 'drizzle-orm/pg-core';
import { readMigrationFiles } from 'drizzle-orm/migrator';

/** The service's drizzle-kit migrations; snippet repos check `requires.migrations` against them. */
export const migrationsFolder = fileURLToPath(new URL('../drizzle', import.meta.url));

type AnyPgDatabase = PgDatabase<PgQueryResultHKT, Record<string, unknown>>;

/**
 * Applies the service's migrations with drizzle's own migrator, on either driver
 * (postgres.js or PGlite): both drizzle migrators are this same call on the dialect.
 */
export async function migrate(db: AnyPgDatabase): Promise<void> {
  const internals = db as unknown as { dialect: PgDialect; session: PgSession };
  const migrations = readMigrationFiles({ migrationsFolder });
  await internals.dialect.migrate(migrations, internals.session, { migrationsFolder });
}
