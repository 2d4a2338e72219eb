import { sql } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CHANGE_COUNTS, changesBetween, type ChangeCounts, type TableChanges } from '../src/checks/change-counts.ts';
import { fingerprintHash, schemaFingerprint } from '../src/checks/schema-fingerprint.ts';
import { undeclaredTables } from '../src/checks/touches.ts';
import { openDatabase, parseDatabaseUrl, type Database } from '../src/database/database.ts';
import type { SnippetDb } from '../src/database/snippet-db.ts';
import { queryRows } from '../src/database/queries.ts';
import { checkClosing, readRefusal } from '../src/store/closing-statement.ts';
import { snippetStore } from '../src/store/snippet-store.ts';
import { createTestDatabase, type Driver, type TestDatabase } from './support/databases.ts';

const TABLES = ['public.accounts', 'public.ledger_lines', 'Billing.Invoices'];

/**
 * The rules an atomic snippet's closing statement applies in SQL, for speed, are written
 * once in TypeScript (checks/): for the same work, both must give the same answer.
 */
describe.each<Driver>(['postgres', 'pglite'])('the closing statement and the TypeScript rules on %s', (driver) => {
  let server: TestDatabase | undefined;
  let database: Database;

  beforeEach(async () => {
    server = driver === 'postgres' ? await createTestDatabase('postgres') : undefined;
    database = await openDatabase(parseDatabaseUrl(server?.url ?? 'pglite:memory', process.cwd()));
    await snippetStore(database.db, 'rules').upgrade();
    for (const statement of [
      `create table accounts (id int primary key, email text)`,
      `create table ledger_lines (id int primary key, amount int)`,
      `create schema "Billing"`,
      `create table "Billing"."Invoices" (id int primary key)`,
      `insert into accounts select g, 'a' || g from generate_series(1, 5) g`,
      `insert into ledger_lines select g, g from generate_series(1, 5) g`,
      `insert into "Billing"."Invoices" select g from generate_series(1, 5) g`,
    ]) {
      await database.db.execute(sql.raw(statement));
    }
  });

  afterEach(async () => {
    await database.close();
    await server?.dispose();
  });

  /** A snippet's work: 3 inserted, 2 updated, 1 deleted, in three tables (one quoted and mixed-case). */
  async function work(tx: SnippetDb): Promise<void> {
    await tx.execute(sql`insert into accounts select g, 'n' || g from generate_series(6, 8) g`);
    await tx.execute(sql`update ledger_lines set amount = amount * 2 where id <= 2`);
    await tx.execute(sql`delete from "Billing"."Invoices" where id = 5`);
  }

  /** Runs `work` between two readings of the counts; the closing checks get the first, TypeScript compares both. */
  async function closeAfter(touches: string[], extra?: (tx: SnippetDb) => Promise<void>): Promise<{ typescript: TableChanges; closing: TableChanges | Error; fingerprint: string[] }> {
    let outcome: { typescript: TableChanges; closing: TableChanges | Error; fingerprint: string[] } | undefined;
    const schemaHash = fingerprintHash(await schemaFingerprint(database.db));
    await database.db
      .transaction(async (tx) => {
        const [before] = await queryRows<{ counts: string }>(tx, sql.raw(`select ${CHANGE_COUNTS}::text as counts`));
        await work(tx);
        await extra?.(tx);
        const [after] = await queryRows<{ counts: ChangeCounts }>(tx, sql.raw(`select ${CHANGE_COUNTS} as counts`));
        const typescript = changesBetween(JSON.parse(before!.counts) as ChangeCounts, after!.counts);
        const fingerprint = await schemaFingerprint(tx);
        const closing = await checkClosing(tx, { before: before!.counts, touches, schemaHash }).catch((error: Error) => error);
        outcome = { typescript, closing, fingerprint };
        throw new Error('roll back');
      })
      .catch(() => undefined);
    return outcome!;
  }

  it('count the same rows changed per table', async () => {
    const { typescript, closing } = await closeAfter(TABLES);
    expect(typescript).toEqual({
      'Billing.Invoices': { inserted: 0, updated: 0, deleted: 1 },
      'public.accounts': { inserted: 3, updated: 0, deleted: 0 },
      'public.ledger_lines': { inserted: 0, updated: 2, deleted: 0 },
    });
    expect(closing).toEqual(typescript);
    expect(undeclaredTables(typescript, TABLES)).toEqual([]);
  });

  it('refuse the same undeclared tables, with the same counts', async () => {
    const touches = ['public.accounts'];
    const { typescript, closing } = await closeAfter(touches);
    expect(undeclaredTables(typescript, touches)).toEqual(['Billing.Invoices', 'public.ledger_lines']);
    const refusal = readRefusal(closing);
    expect(refusal?.check).toBe('touches');
    expect(refusal?.check === 'touches' && undeclaredTables(refusal.rowsChanged, touches)).toEqual(['Billing.Invoices', 'public.ledger_lines']);
    expect(refusal?.check === 'touches' && refusal.rowsChanged).toEqual(typescript);
  });

  it('see the same schema after DDL: the refusal carries the fingerprint TypeScript reads', async () => {
    const { closing, fingerprint } = await closeAfter(TABLES, async (tx) => {
      await tx.execute(sql`create index accounts_email on accounts (email)`);
    });
    const refusal = readRefusal(closing);
    expect(refusal?.check).toBe('schema');
    expect(refusal?.check === 'schema' && refusal.fingerprint).toEqual(fingerprint);
    expect(fingerprint.some((entry) => entry.includes('accounts_email'))).toBe(true);
  });
});
