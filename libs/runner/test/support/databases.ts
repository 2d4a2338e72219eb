import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import postgres from 'postgres';

/** The PostgreSQL server the tests create their own databases on. */
export const SERVER_URL = process.env.SNIPPETS_TEST_SERVER_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export type Driver = 'postgres' | 'pglite';

export interface TestDatabase {
  driver: Driver;
  /** The DATABASE_URL the CLI gets. */
  url: string;
  query<Row = Record<string, unknown>>(text: string, params?: unknown[]): Promise<Row[]>;
  dispose(): Promise<void>;
}

async function createPostgres(): Promise<TestDatabase> {
  const name = `snippets_test_${randomBytes(6).toString('hex')}`;
  const admin = postgres(SERVER_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(SERVER_URL);
  url.pathname = `/${name}`;
  const client = postgres(url.toString(), { max: 2, onnotice: () => {} });
  return {
    driver: 'postgres',
    url: url.toString(),
    query: async (text, params = []) => (await client.unsafe(text, params as never[])) as never,
    dispose: async () => {
      await client.end();
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

let pgliteTemplate: Promise<string> | undefined;

/**
 * An initialised, empty PGlite data directory, made once per test process: PGlite's initdb
 * takes about 2 s, copying its result about 0.2 s, and a test gets a database as fresh.
 */
function emptyPgliteDir(): Promise<string> {
  pgliteTemplate ??= (async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'snippets-pglite-template-'));
    const db = await PGlite.create(dir);
    await db.close();
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    return dir;
  })();
  return pgliteTemplate;
}

async function createPglite(): Promise<TestDatabase> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'snippets-pglite-'));
  await cp(await emptyPgliteDir(), dir, { recursive: true });
  // PGlite is one process's database: open it only between CLI runs, never beside one.
  const query = async <Row>(text: string, params: unknown[] = []): Promise<Row[]> => {
    const db = await PGlite.create(dir);
    try {
      if (params.length === 0 && text.includes(';')) {
        const results = await db.exec(text);
        return (results.at(-1)?.rows ?? []) as Row[];
      }
      return (await db.query<Row>(text, params)).rows;
    } finally {
      await db.close();
    }
  };
  return {
    driver: 'pglite',
    url: `pglite:${dir}`,
    query,
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}

export function createTestDatabase(driver: Driver): Promise<TestDatabase> {
  return driver === 'postgres' ? createPostgres() : createPglite();
}

export async function schemaExists(database: TestDatabase, schema: string): Promise<boolean> {
  const [row] = await database.query<{ exists: boolean }>(`select exists (select 1 from pg_namespace where nspname = $1) as exists`, [schema]);
  return row!.exists;
}
