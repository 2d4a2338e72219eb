import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import postgres from 'postgres';
import { sha256 } from '../checksum.ts';
import type { ServiceConfig } from '../config.ts';
import { openDatabase, openDatabaseUrl, openPgliteSnapshot, sealScratchDatabase, type Database } from '../database/database.ts';
import { buildServiceSchema } from './service-migrations.ts';

/**
 * What a service's schema is built from, as one hash: the schema file, or every migration
 * file of the folder, and where the version is recorded. A cached build is reused only for
 * the same key, so an edited migration or schema file builds anew.
 */
export async function serviceSchemaKey(service: ServiceConfig): Promise<string> {
  const parts = [JSON.stringify(service.version)];
  if (service.schemaFile !== undefined) parts.push(await readFile(service.schemaFile, 'utf8'));
  else {
    const folder = service.migrationsFolder;
    const files = (await readdir(folder, { recursive: true })).filter((f) => f.endsWith('.sql') || f.endsWith('_journal.json')).sort();
    for (const file of files) parts.push(file, await readFile(path.join(folder, file), 'utf8'));
  }
  return sha256(parts.join('\0'));
}

const adminClient = (url: string) => postgres(url, { max: 1, onnotice: () => {} });

function databaseUrl(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Builds the schema in a database of its own name, renamed to the template's only once complete. */
async function buildTemplate(admin: postgres.Sql, serverUrl: string, template: string, service: ServiceConfig): Promise<void> {
  const building = `${template}_building_${randomBytes(4).toString('hex')}`;
  await admin.unsafe(`create database ${building}`);
  try {
    const database = await openDatabaseUrl(databaseUrl(serverUrl, building), process.cwd());
    try {
      await buildServiceSchema(database.db, service);
    } finally {
      await database.close();
    }
    await admin.unsafe(`alter database ${building} rename to ${template}`);
  } catch (error) {
    await admin.unsafe(`drop database if exists ${building} with (force)`);
    throw error;
  }
}

/** The template database that holds this version of the service's schema. */
export async function serviceTemplateName(service: ServiceConfig): Promise<string> {
  return `snippets_template_${(await serviceSchemaKey(service)).slice(0, 16)}`;
}

/**
 * The name of a template database on the server holding the service's schema:
 * `snippets_template_<key>`, built once per schema key (under an advisory lock, so parallel
 * test files build it once) and kept for later runs; it is safe to drop any time.
 */
export async function ensureServiceTemplate(serverUrl: string, service: ServiceConfig): Promise<string> {
  const template = await serviceTemplateName(service);
  const admin = adminClient(serverUrl);
  try {
    await admin`select pg_advisory_lock(hashtext(${template}))`;
    const [exists] = await admin`select 1 from pg_database where datname = ${template}`;
    if (!exists) await buildTemplate(admin, serverUrl, template, service);
    return template;
  } finally {
    // Ending the session releases the advisory lock too.
    await admin.end();
  }
}

/**
 * A fresh database on the server, empty or cloned from `template`, named
 * `snippets_test_<random>`; closing it drops it. Only the runner's sessions may write to it.
 */
export async function openThrowawayDatabase(serverUrl: string, template?: string): Promise<Database> {
  const name = `snippets_test_${randomBytes(6).toString('hex')}`;
  const admin = adminClient(serverUrl);
  let database: Database;
  try {
    await admin.unsafe(template ? `create database ${name} template ${template}` : `create database ${name}`);
    await sealScratchDatabase(admin, name);
    database = await openDatabaseUrl(databaseUrl(serverUrl, name), process.cwd());
  } catch (error) {
    await admin.unsafe(`drop database if exists ${name} with (force)`).catch(() => undefined);
    await admin.end();
    throw error;
  }
  return {
    ...database,
    close: async () => {
      await database.close();
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

/** A fresh database on the server, cloned from the service's template (see ensureServiceTemplate); closing it drops it. */
export async function cloneServiceTemplate(serverUrl: string, service: ServiceConfig): Promise<Database> {
  return openThrowawayDatabase(serverUrl, await ensureServiceTemplate(serverUrl, service));
}

/** PGlite's own version: a data directory dumped by one version is not loaded by another. */
function pgliteVersion(): string {
  const entry = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  let dir = path.dirname(entry);
  while (path.basename(dir) !== 'pglite') dir = path.dirname(dir);
  return (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version;
}

const snapshots = new Map<string, Promise<Blob>>();

/** The service's schema built in PGlite once, as its data directory's tarball: in memory for this process, on disk for the next. */
async function pgliteSnapshot(cacheDir: string, service: ServiceConfig): Promise<Blob> {
  const key = sha256(`${await serviceSchemaKey(service)}\0pglite ${pgliteVersion()}`).slice(0, 16);
  if (!snapshots.has(key)) {
    snapshots.set(
      key,
      (async () => {
        const file = path.join(cacheDir, `${key}.tar`);
        const cached = await readFile(file).catch(() => undefined);
        if (cached) return new Blob([cached]);
        const database = await openDatabase({ driver: 'pglite', dataDir: undefined, display: 'pglite:memory' });
        let snapshot: Blob;
        try {
          await buildServiceSchema(database.db, service);
          const client = (database.db as unknown as { $client: { dumpDataDir(compression: 'none'): Promise<Blob> } }).$client;
          snapshot = await client.dumpDataDir('none');
        } finally {
          await database.close();
        }
        // Written whole or not at all: a parallel test file may read it at any moment.
        await mkdir(cacheDir, { recursive: true });
        const partial = `${file}.${process.pid}.tmp`;
        await writeFile(partial, Buffer.from(await snapshot.arrayBuffer()));
        await rename(partial, file);
        return snapshot;
      })(),
    );
    snapshots.get(key)!.catch(() => snapshots.delete(key));
  }
  return snapshots.get(key)!;
}

/**
 * An in-memory PGlite database holding the service's schema, loaded from a snapshot built
 * once per schema key (kept in `<repo>/node_modules/.cache/snippets/test-databases`).
 */
export async function openPgliteWithService(repoRoot: string, service: ServiceConfig): Promise<Database> {
  const cacheDir = path.join(repoRoot, 'node_modules', '.cache', 'snippets', 'test-databases');
  return openPgliteSnapshot(await pgliteSnapshot(cacheDir, service), 'pglite:memory');
}
