import { randomBytes } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import { drizzle as drizzlePglite, type PgliteDatabase } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import * as schema from '../../src/schema.ts';

const SERVER_URL = process.env.SNIPPETS_TEST_SERVER_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** The service's own handles, typed with its schema as the service would type them. */
export type TestDb = PostgresJsDatabase<typeof schema> | PgliteDatabase<typeof schema>;
type WithDatabase = (work: (db: TestDb) => Promise<void>) => Promise<void>;

/** A fresh, empty database on the PostgreSQL server, dropped afterwards. */
export const onPostgres: WithDatabase = async (work) => {
  const name = `service_test_${randomBytes(6).toString('hex')}`;
  const admin = postgres(SERVER_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(SERVER_URL);
  url.pathname = `/${name}`;
  const client = postgres(url.toString(), { max: 1, onnotice: () => {} });
  try {
    await work(drizzlePostgres({ client, schema }));
  } finally {
    await client.end();
    await admin.unsafe(`drop database ${name} with (force)`);
    await admin.end();
  }
};

/** A fresh, empty PGlite database in memory. */
export const onPglite: WithDatabase = async (work) => {
  const client = await PGlite.create();
  try {
    await work(drizzlePglite({ client, schema }));
  } finally {
    await client.close();
  }
};

/** Both drivers, for `describe.each`: the service runs on either. */
export const DRIVERS: [string, WithDatabase][] = [
  ['postgres', onPostgres],
  ['pglite', onPglite],
];
