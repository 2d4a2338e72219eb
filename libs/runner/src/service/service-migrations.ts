import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import type { PgDialect, PgSession } from 'drizzle-orm/pg-core';
import { sha256 } from '../checksum.ts';
import type { ParsedConfig, ServiceConfig } from '../config.ts';
import type { SnippetDb } from '../database/snippet-db.ts';
import { queryRows, runScript } from '../database/queries.ts';
import { InputError } from '../errors.ts';
import type { LoadedSnippet } from '../snippets/load-snippets.ts';
import type { ServiceMigrations } from '../planning/plan.ts';

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

/**
 * What a database of the service records of its schema version: drizzle's hashes, or
 * another tool's version column; undefined when it has no such table (or records none).
 */
export async function readRecordedVersions(db: SnippetDb, version: ServiceConfig['version']): Promise<Set<string> | undefined> {
  if (version.kind === 'none') return undefined;
  const column = version.kind === 'drizzle' ? 'hash' : version.column;
  const [exists] = await queryRows<{ exists: boolean }>(db, sql`select to_regclass(${`${quoteIdent(version.schema)}.${quoteIdent(version.table)}`}) is not null as exists`);
  if (!exists?.exists) return undefined;
  const rows = await queryRows<{ v: string }>(db, sql`select ${sql.identifier(column)}::text as v from ${sql.identifier(version.schema)}.${sql.identifier(version.table)}`);
  return new Set(rows.map((r) => r.v));
}

/** An identifier as PostgreSQL reads it back exactly, for to_regclass's text argument. */
const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** Where the config says the version is kept, for messages. */
export function describeVersionSource(version: ServiceConfig['version']): string {
  if (version.kind === 'none') return "no schema version (service.schemaVersion 'none')";
  if (version.kind === 'drizzle') return `drizzle's migrations table ${version.schema}.${version.table}`;
  return `${version.schema}.${version.table}.${version.column}`;
}

/**
 * Checks every `requires.migrations` tag against the service (an InputError when it cannot
 * be one) and reads which are applied. Undefined when no snippet requires any. With
 * drizzle, a tag is a migration of the journal, recorded by its hash; with another tool's
 * table, a tag is a value of its version column.
 */
export async function readServiceMigrations(
  config: ParsedConfig,
  snippets: LoadedSnippet[],
  db: SnippetDb,
): Promise<ServiceMigrations | undefined> {
  const requiring = snippets.filter((s) => (s.definition.requires?.migrations ?? []).length > 0);
  if (requiring.length === 0) return undefined;
  const first = requiring[0]!.displayPath;
  if (!config.service) {
    throw new InputError(`${first}: requires service migrations but snippets.config.ts has no service; add service.migrationsFolder, or service.schemaVersion`, { subject: first });
  }
  const { version } = config.service;
  if (version.kind === 'none') {
    throw new InputError(`${first}: requires service migrations but snippets.config.ts says service.schemaVersion 'none'; name the table that records the version, or drop requires`, {
      subject: first,
    });
  }
  const required = requiring.flatMap((s) => s.definition.requires!.migrations!);
  const hashByTag = version.kind === 'drizzle' ? await readServiceJournal(config.service.migrationsFolder!) : new Map(required.map((tag) => [tag, tag]));
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
  return { hashByTag, appliedHashes: (await readRecordedVersions(db, version)) ?? new Set() };
}

/**
 * Builds the service's schema in an empty database: its drizzle-kit migrations applied the
 * way drizzle's own migrator does (on either driver: both drizzle migrators are this call
 * on the dialect), or its schema file run as one script. For test and rehearsal databases.
 */
export async function buildServiceSchema(db: SnippetDb, service: ServiceConfig): Promise<void> {
  if (service.schemaFile !== undefined) {
    let script: string;
    try {
      script = await readFile(service.schemaFile, 'utf8');
    } catch (error) {
      throw new InputError(`snippets.config.ts: service.schemaFile ${service.schemaFile} cannot be read; point it at the service's schema SQL`, { subject: service.schemaFile, cause: error });
    }
    await runScript(db, script);
    return;
  }
  const internals = db as unknown as { dialect: PgDialect; session: PgSession };
  const drizzleVersion = service.version.kind === 'drizzle' ? service.version : { schema: 'drizzle', table: '__drizzle_migrations' };
  const config = { migrationsFolder: service.migrationsFolder, migrationsSchema: drizzleVersion.schema, migrationsTable: drizzleVersion.table };
  await internals.dialect.migrate(readMigrationFiles(config), internals.session, config);
}
