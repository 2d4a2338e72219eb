import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '../src/database/queries.ts';
import { loadConfig } from '../src/config.ts';
import { serviceTemplateName } from '../src/service/service-schema-cache.ts';
import { openServiceTestDatabase } from '../src/testing.ts';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { SERVER_URL, type Driver } from './support/databases.ts';
import { createFixtureRepo, type FixtureRepo } from './support/fixture-repo.ts';

const SCHEMA_V1 = 'create table "Account" (id uuid primary key default gen_random_uuid(), "text" text not null);';
const SCHEMA_V2 = `${SCHEMA_V1}\ncreate table "AuditLog" (id bigserial primary key, "accountId" uuid references "Account"(id) on delete cascade);`;

const tables = async (database: Awaited<ReturnType<typeof openServiceTestDatabase>>) =>
  (await queryRows<{ name: string }>(database.db, sql`select relname::text as name from pg_class where relkind = 'r' and relnamespace = 'public'::regnamespace order by 1`)).map((r) => r.name);

async function serverDatabases(pattern: string): Promise<string[]> {
  const admin = postgres(SERVER_URL, { max: 1, onnotice: () => {} });
  try {
    return (await admin`select datname from pg_database where datname like ${pattern} order by 1`).map((r) => r.datname as string);
  } finally {
    await admin.end();
  }
}

describe.each<Driver>(['postgres', 'pglite'])("a snippet test's service database on %s", (driver) => {
  let repo: FixtureRepo;
  const env = driver === 'postgres' ? { SNIPPETS_TEST_DATABASE_URL: SERVER_URL } : {};
  const templatesBefore: string[] = [];

  beforeAll(async () => {
    repo = await createFixtureRepo(
      {},
      `import { defineConfig } from '@snippets/runner';\nexport default defineConfig({ repo: 'fixture', service: { schemaFile: 'schema.sql', schemaVersion: 'none' } });\n`,
    );
    // Templates of this test's two schemas that an interrupted run left behind would make
    // the first open here no first build: drop them, as a first run would find none.
    const admin = postgres(SERVER_URL, { max: 1, onnotice: () => {} });
    for (const schema of [SCHEMA_V2, SCHEMA_V1]) {
      await repo.write('schema.sql', schema);
      await admin.unsafe(`drop database if exists ${await serviceTemplateName((await loadConfig(repo.dir)).service!)}`);
    }
    await admin.end();
    templatesBefore.push(...(await serverDatabases('snippets_template_%')));
  });
  afterAll(async () => {
    // The templates this test made are its own: a later run must build them again, as a first run would.
    const admin = postgres(SERVER_URL, { max: 1, onnotice: () => {} });
    for (const name of await serverDatabases('snippets_template_%')) {
      if (!templatesBefore.includes(name)) await admin.unsafe(`drop database ${name}`);
    }
    await admin.end();
    await repo.dispose();
  });

  it('gives each call a fresh copy of the schema, built once per version of the schema file', async () => {
    // The fixture repo's node_modules is the workspace's: other snapshots may be there already.
    const cacheDir = path.join(repo.dir, 'node_modules/.cache/snippets/test-databases');
    const snapshots = () => readdir(cacheDir).catch(() => [] as string[]);
    const snapshotsBefore = await snapshots();
    const first = await openServiceTestDatabase(repo.dir, env);
    const second = await openServiceTestDatabase(repo.dir, env);
    try {
      expect(await tables(first)).toEqual(['Account']);
      await first.db.execute(sql`insert into "Account" ("text") values ('only in the first')`);
      const [count] = await queryRows<{ n: number }>(second.db, sql`select count(*)::int as n from "Account"`);
      expect(count!.n).toBe(0);
    } finally {
      await first.close();
      await second.close();
    }
    if (driver === 'pglite') {
      const added = (await snapshots()).filter((file) => !snapshotsBefore.includes(file));
      expect(added.length).toBeLessThanOrEqual(1); // none when an earlier run left this version's snapshot
      for (const file of added) expect(file).toMatch(/^[0-9a-f]{16}\.tar$/);
    } else {
      // One template for the two databases, and the clones dropped on close.
      expect((await serverDatabases('snippets_template_%')).filter((name) => !templatesBefore.includes(name))).toHaveLength(1);
      const clones = [first, second].map((d) => new URL(d.display).pathname.slice(1));
      expect(clones).toEqual([expect.stringMatching(/^snippets_test_/), expect.stringMatching(/^snippets_test_/)]);
      for (const clone of clones) expect(await serverDatabases(clone)).toEqual([]);
    }

    // An edited schema file is a new version: the next database has the new table.
    await repo.write('schema.sql', SCHEMA_V2);
    const third = await openServiceTestDatabase(repo.dir, env);
    try {
      expect(await tables(third)).toEqual(['Account', 'AuditLog']);
      if (driver === 'postgres') expect((await serverDatabases('snippets_template_%')).filter((name) => !templatesBefore.includes(name))).toHaveLength(2);
    } finally {
      await third.close();
    }
    await repo.write('schema.sql', SCHEMA_V1);
  });
});
