import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import type { PgDialect, PgSession } from 'drizzle-orm/pg-core';
import { sha256 } from './checksum.ts';
import type { ParsedConfig } from './config.ts';
import type { SnippetDb } from './define-snippet.ts';
import { queryRows } from './database.ts';
import { InputError } from './errors.ts';
import type { LoadedSnippet } from './load-snippets.ts';
import type { ServiceMigrations } from './plan.ts';

/**
 * drizzle's migrations table keeps a hash per migration, not its name, so the tag a
 * snippet requires is mapped to the hash drizzle records: sha256 of the `.sql` file.
 */
export async function readServiceJournal(folder: string): Promise<Map<string, string>> {
  let journal: { entries: { tag: string }[] };
  try {
    journal = JSON.parse(await readFile(path.join(folder, 'meta', '_journal.json'), 'utf8'));
  } catch (error) {
    throw new InputError(
      `snippets.config.ts: service.migrationsFolder ${folder} has no readable meta/_journal.json; point it at the service's drizzle-kit output`,
      { subject: folder, cause: error },
    );
  }
  const hashByTag = new Map<string, string>();
  for (const { tag } of journal.entries) {
    hashByTag.set(tag, sha256(await readFile(path.join(folder, `${tag}.sql`), 'utf8')));
  }
  return hashByTag;
}

async function appliedHashes(db: SnippetDb, schema: string, table: string): Promise<Set<string>> {
  const [exists] = await queryRows<{ exists: boolean }>(
    db,
    sql`select to_regclass(${`${schema}.${table}`}) is not null as exists`,
  );
  if (!exists?.exists) return new Set();
  const rows = await queryRows<{ hash: string }>(db, sql`select hash from ${sql.identifier(schema)}.${sql.identifier(table)}`);
  return new Set(rows.map((r) => r.hash));
}

/**
 * Checks every `requires.migrations` tag names a real service migration (an InputError
 * otherwise) and reads which are applied. Undefined when no snippet requires any.
 */
export async function readServiceMigrations(
  config: ParsedConfig,
  snippets: LoadedSnippet[],
  db: SnippetDb,
): Promise<ServiceMigrations | undefined> {
  const requiring = snippets.filter((s) => (s.definition.requires?.migrations ?? []).length > 0);
  if (requiring.length === 0) return undefined;
  if (!config.service) {
    throw new InputError(
      `${requiring[0]!.displayPath}: requires service migrations but snippets.config.ts has no service.migrationsFolder; add it`,
      { subject: requiring[0]!.displayPath },
    );
  }
  const hashByTag = await readServiceJournal(config.service.migrationsFolder);
  for (const snippet of requiring) {
    for (const tag of snippet.definition.requires!.migrations!) {
      if (!hashByTag.has(tag)) {
        throw new InputError(
          `${snippet.displayPath}: requires migration '${tag}', which is not in the service's migrations (${[...hashByTag.keys()].join(', ')}); use one of those tags`,
          { subject: snippet.displayPath },
        );
      }
    }
  }
  const applied = await appliedHashes(db, config.service.migrationsSchema, config.service.migrationsTable);
  return { hashByTag, appliedHashes: applied };
}

/**
 * Applies the service's drizzle-kit migrations the way drizzle's own migrator does (on
 * either driver: both drizzle migrators are this call on the dialect). For test databases.
 */
export async function migrateService(db: SnippetDb, service: NonNullable<ParsedConfig['service']>): Promise<void> {
  const internals = db as unknown as { dialect: PgDialect; session: PgSession };
  const config = {
    migrationsFolder: service.migrationsFolder,
    migrationsSchema: service.migrationsSchema,
    migrationsTable: service.migrationsTable,
  };
  await internals.dialect.migrate(readMigrationFiles(config), internals.session, config);
}
