import { randomBytes } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import { sql, TransactionRollbackError } from 'drizzle-orm';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applySchema, seed, seedRows, seedUserId, type SeedCounts } from '../src/index.ts';

const SERVER_URL = process.env.SNIPPETS_TEST_SERVER_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

type Db = ReturnType<typeof drizzlePostgres> | ReturnType<typeof drizzlePglite>;

interface TestDatabase {
  db: Db;
  close(): Promise<void>;
}

async function openPostgres(): Promise<TestDatabase> {
  const name = `chat_service_test_${randomBytes(6).toString('hex')}`;
  const admin = postgres(SERVER_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(SERVER_URL);
  url.pathname = `/${name}`;
  const client = postgres(url.toString(), { max: 1, onnotice: () => {} });
  return {
    db: drizzlePostgres({ client }),
    async close() {
      try {
        await client.end();
        await admin.unsafe(`drop database ${name} with (force)`);
      } finally {
        await admin.end();
      }
    },
  };
}

async function openPglite(): Promise<TestDatabase> {
  const client = await PGlite.create();
  return { db: drizzlePglite({ client }), close: () => client.close() };
}

const rowsOf = (result: unknown) =>
  (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as Record<string, unknown>[];

/** What the seed's rules (see `seedRows`) make at scale 1. */
const SEEDED: SeedCounts = {
  plans: 5,
  users: 50,
  workspaces: 4,
  // 50 first memberships, and a second one for each of the 10 users whose number is a multiple of 5.
  memberships: 60,
  // Σ i mod 3 for i = 1…50: 16 cycles of 1 + 2 + 0, then 1 (user 49) and 2 (user 50).
  threads: 51,
  messages: 279,
  orderLines: 60,
};

/**
 * User 35 owns no workspace. Its memberships are workspace 3 (first) and 4 (35 mod 5 = 0).
 * - Threads: users 1…34 start Σ i mod 3 = 34 threads, so user 35 starts threads 35 and 36,
 *   with 3 + 35 mod 6 = 8 and 3 + 36 mod 6 = 3 messages: 11 messages, 4 + 2 = 6 of them its own.
 * - It answers (odd messages) the threads of the member before it in each workspace:
 *   user 31 in workspace 3 (thread 31, 4 messages: 2 answers) and user 32 in workspace 4
 *   (threads 32 and 33, 5 and 6 messages: 2 + 3 answers), 7 messages in others' threads.
 * - Message rows gone, by either cascade path: 11 + 7 = 18 (13 authored, 11 in its threads, 6 both).
 * - Order lines: (35 + 3) mod 3 = 2 in workspace 3, (35 + 4) mod 3 = 0 in workspace 4.
 * - User 45 (invited by 35) keeps its row, with invitedById set to null.
 */
const DELETED_USER = 35;
const CASCADE = { User: 1, Thread: 2, Message: 18, Membership: 2, OrderLine: 2 };

const COUNTED_TABLES = {
  plans: 'Plan',
  users: 'User',
  workspaces: 'Workspace',
  memberships: 'Membership',
  threads: 'Thread',
  messages: 'Message',
  orderLines: 'OrderLine',
} as const satisfies Record<keyof SeedCounts, string>;

async function countRows(db: Pick<Db, 'execute'>) {
  const [row] = rowsOf(
    await db.execute(sql`select
      (select count(*)::int from "Plan") as "Plan",
      (select count(*)::int from "User") as "User",
      (select count(*)::int from "Workspace") as "Workspace",
      (select count(*)::int from "Membership") as "Membership",
      (select count(*)::int from "Thread") as "Thread",
      (select count(*)::int from "Message") as "Message",
      (select count(*)::int from "OrderLine") as "OrderLine"`),
  );
  return row as Record<string, number>;
}

describe('the seed rules', () => {
  it('make the counts the database tests assert', () => {
    const rows = seedRows();
    expect(Object.fromEntries(Object.entries(rows).map(([table, list]) => [table, list.length]))).toEqual(SEEDED);
  });

  it('refuse a scale that is not a positive integer', () => {
    expect(() => seedRows({ scale: 0.5 })).toThrow(/scale must be a positive integer/);
  });
});

describe.each([
  ['postgres', openPostgres],
  ['pglite', openPglite],
] as const)('the chat service on %s', (_driver, open) => {
  let database: TestDatabase;
  let db: Db;

  beforeAll(async () => {
    database = await open();
    db = database.db;
    await applySchema(db as never);
    expect(await seed(db as never)).toEqual(SEEDED);
  });

  afterAll(async () => {
    await database?.close();
  });

  it('has the seeded rows in every table', async () => {
    const expected = Object.fromEntries(
      Object.entries(COUNTED_TABLES).map(([key, table]) => [table, SEEDED[key as keyof SeedCounts]]),
    );
    expect(await countRows(db)).toEqual(expected);
  });

  it('was set up push-style: the seven tables, no drizzle schema, no migrations table', async () => {
    const tables = rowsOf(
      await db.execute(sql`select table_schema, table_name from information_schema.tables
        where table_schema not in ('pg_catalog', 'information_schema') order by table_name`),
    );
    expect(tables).toEqual(
      ['Membership', 'Message', 'OrderLine', 'Plan', 'Thread', 'User', 'Workspace'].map((table_name) => ({
        table_schema: 'public',
        table_name,
      })),
    );
    const [drizzleSchema] = rowsOf(
      await db.execute(sql`select count(*)::int as n from information_schema.schemata where schema_name = 'drizzle'`),
    );
    expect(drizzleSchema!.n).toBe(0);
  });

  it(`deleting user ${DELETED_USER} cascades along both paths to Message, and through Membership to OrderLine`, async () => {
    const userId = seedUserId(DELETED_USER);
    const before = await countRows(db);
    let after: Record<string, number> | undefined;
    let invitee: Record<string, unknown> | undefined;
    await expect(
      db.transaction(async (tx) => {
        await tx.execute(sql`delete from "User" where id = ${userId}`);
        after = await countRows(tx);
        [invitee] = rowsOf(await tx.execute(sql`select "invitedById" from "User" where id = ${seedUserId(45)}`));
        tx.rollback();
      }),
    ).rejects.toThrow(TransactionRollbackError);

    const removed = Object.fromEntries(Object.keys(CASCADE).map((table) => [table, before[table]! - after![table]!]));
    expect(removed).toEqual(CASCADE);
    expect(after!.Workspace).toBe(before.Workspace);
    expect(invitee).toEqual({ invitedById: null });
    expect(await countRows(db)).toEqual(before);
  });

  it('refuses to delete a workspace owner (Workspace.ownerId is ON DELETE RESTRICT)', async () => {
    const error = await db.execute(sql`delete from "User" where id = ${seedUserId(1)}`).then(
      () => undefined,
      (caught: unknown) => caught as Error & { cause?: { code?: string; message?: string } },
    );
    // PostgreSQL 18 (PGlite 0.5.16 is 18.6) reports a RESTRICT violation as restrict_violation
    // (23001); PostgreSQL 15 reports foreign_key_violation (23503).
    expect(['23001', '23503']).toContain(error?.cause?.code);
    expect(error?.cause?.message).toMatch(/Workspace_ownerId_User_id_fk/);
    expect((await countRows(db)).User).toBe(SEEDED.users);
  });
});
