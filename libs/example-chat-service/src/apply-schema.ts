import { readFile } from 'node:fs/promises';
import { sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { schemaFile } from './schema-file.ts';

type AnyPgDatabase = PgDatabase<PgQueryResultHKT, Record<string, unknown>>;

/**
 * The statements of a `drizzle-kit export` file. Export ends every statement with `;` at
 * the end of a line and, unlike `generate`, writes no `--> statement-breakpoint` markers.
 */
export function splitStatements(script: string): string[] {
  return script
    .split(/;[ \t]*(?:\r?\n|$)/)
    .map((statement) => statement.trim())
    .filter((statement) => statement.length > 0);
}

/**
 * Creates the whole schema from schema.sql in one transaction, the way `drizzle-kit push`
 * sets up a database: no migrations, no `drizzle` schema. Works on postgres.js and PGlite,
 * whose drizzle `execute` each run one statement per call.
 */
export async function applySchema(db: AnyPgDatabase): Promise<void> {
  const statements = splitStatements(await readFile(schemaFile, 'utf8'));
  await db.transaction(async (tx) => {
    for (const statement of statements) {
      await tx.execute(sql.raw(statement));
    }
  });
}
