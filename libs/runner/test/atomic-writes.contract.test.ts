import { sql } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SchemaBaseline } from '../src/checks/schema-fingerprint.ts';
import { openDatabase, parseDatabaseUrl, type Database } from '../src/database/database.ts';
import { queryRows } from '../src/database/queries.ts';
import type { SnippetDb } from '../src/database/snippet-db.ts';
import { SafetyRefusal } from '../src/errors.ts';
import { atomicWrites, type AtomicWork, type AtomicWrites } from '../src/store/atomic-writes.ts';
import { readRefusal, type AppliedRecord } from '../src/store/closing-statement.ts';
import { snippetStore } from '../src/store/snippet-store.ts';
import type { TransactionSettings } from '../src/store/transaction-start.ts';
import { createTestDatabase, type Driver, type TestDatabase } from './support/databases.ts';

const REPO = 'atomic';
const audit = { executedBy: 'tester', host: 'ci', gitSha: 'abc123', image: null, approvedBy: 'reviewer', ciRunUrl: null, servicePackage: null, serviceVersion: null };
const settings: TransactionSettings = { repo: REPO, timeouts: { statementMs: 30_000, lockMs: 5_000 }, requireRepoLock: false };

/** Everything an atomic snippet's transaction can leave behind: the service's rows and the store's. */
async function snapshot(db: SnippetDb): Promise<unknown> {
  const read = (query: string) => queryRows(db, sql.raw(query));
  return {
    accounts: await read(`select * from accounts order by id`),
    invoices: await read(`select * from "Billing"."Invoices" order by "Id"`),
    ledger: await read(`select * from snippets.ledger order by repo, id`),
    events: await read(`select * from snippets.events order by seq`),
  };
}

/**
 * The store's apply path for atomic snippets, on both of its implementations: pipelined on
 * the runner's PostgreSQL connection (BEGIN with the first statement, the closing statement
 * ahead of COMMIT, the next transaction begun behind it), plain on PGlite.
 */
describe.each<Driver>(['postgres', 'pglite'])('atomic writes on %s', (driver) => {
  let server: TestDatabase | undefined;
  let database: Database;
  let schemaHash: string;

  beforeEach(async () => {
    server = driver === 'postgres' ? await createTestDatabase('postgres') : undefined;
    database = await openDatabase(parseDatabaseUrl(server?.url ?? 'pglite:memory', process.cwd()));
    await snippetStore(database.db, REPO).upgrade();
    for (const statement of [
      `create table accounts (id uuid primary key default gen_random_uuid(), email text not null)`,
      `create schema "Billing"`,
      `create table "Billing"."Invoices" ("Id" int primary key, "Paid" boolean not null default false)`,
      `insert into "Billing"."Invoices" ("Id") select g from generate_series(1, 3) g`,
    ]) {
      await database.db.execute(sql.raw(statement));
    }
    schemaHash = (await new SchemaBaseline().read(database.db)).hash;
  });

  afterEach(async () => {
    await database.close();
    await server?.dispose();
  });

  it(`is ${driver === 'postgres' ? 'pipelined' : 'plain'} on a connection the runner opened`, () => {
    expect(Boolean(database.pipelined)).toBe(driver === 'postgres');
  });

  const record = (id: string, withStartedEvent = true): AppliedRecord => ({
    repo: REPO,
    id,
    number: Number(id.slice(0, 4)),
    checksum: `sum-${id}`,
    description: 'pays the first invoices',
    audit,
    startedMicros: 0,
    verify: null,
    withStartedEvent,
  });

  /** A snippet's work: pays `paid` invoices (declared) and, if asked, adds an account (not declared). */
  const payInvoices =
    (id: string, paid: number, options: { undeclared?: boolean; dryRun?: boolean } = {}): AtomicWork<string> =>
    async (tx, start) => {
      await tx.execute(sql`update "Billing"."Invoices" set "Paid" = true where "Id" <= ${paid}`);
      if (options.undeclared) await tx.execute(sql`insert into accounts (email) values ('a@example.com')`);
      const { counts, clock } = await start;
      const closing = { before: counts, touches: ['Billing.Invoices'], schemaHash };
      return { value: id, closing, record: options.dryRun ? undefined : { ...record(id), startedMicros: clock.micros } };
    };

  const applyAll = async (writes: AtomicWrites, works: AtomicWork<string>[]) => {
    const done: string[] = [];
    for (const [index, work] of works.entries()) done.push((await writes.at(index).apply(settings, work)).value);
    await writes.finish();
    return done;
  };

  it('commits the work with its ledger row and its started and applied events, and reports the rows the server counted', async () => {
    const closed = await atomicWrites(database, { atomic: [true], dryRun: false }).at(0).apply(settings, payInvoices('0001_pay', 2));
    expect(closed).toMatchObject({ value: '0001_pay', rowsChanged: { 'Billing.Invoices': { inserted: 0, updated: 2, deleted: 0 } } });
    expect(closed.durationMs).toBeGreaterThanOrEqual(0);
    const [row] = await snippetStore(database.db, REPO).ledger();
    expect(row).toMatchObject({ id: '0001_pay', status: 'applied', rowsChanged: { 'Billing.Invoices': { inserted: 0, updated: 2, deleted: 0 } } });
    expect((await snippetStore(database.db, REPO).events('0001_pay')).map((e) => e.kind)).toEqual(['started', 'applied']);
    const paid = await queryRows<{ n: number }>(database.db, sql`select count(*)::int as n from "Billing"."Invoices" where "Paid"`);
    expect(paid[0]?.n).toBe(2);
  });

  it('commits a run of snippets in order, each with its row, and the connection is free afterwards', async () => {
    const writes = atomicWrites(database, { atomic: [true, true, true], dryRun: false });
    expect(await applyAll(writes, [payInvoices('0001_pay', 1), payInvoices('0002_pay', 2), payInvoices('0003_pay', 3)])).toEqual(['0001_pay', '0002_pay', '0003_pay']);
    expect((await snippetStore(database.db, REPO).ledger()).map((r) => [r.id, r.status])).toEqual([
      ['0001_pay', 'applied'],
      ['0002_pay', 'applied'],
      ['0003_pay', 'applied'],
    ]);
    // Not inside a transaction left begun ahead: a savepoint needs one.
    const probe = await database.db.execute(sql`savepoint probe`).then(
      () => undefined,
      (error: Error) => error.cause,
    );
    expect(String(probe)).toMatch(/transaction blocks/);
  });

  it('refuses a change to a table not in touches with the closing statement, and leaves the work and the ledger as they were', async () => {
    const before = await snapshot(database.db);
    const error = await atomicWrites(database, { atomic: [true], dryRun: false })
      .at(0)
      .apply(settings, payInvoices('0001_pay', 2, { undeclared: true }))
      .catch((e: unknown) => e);
    expect(readRefusal(error)).toEqual({ check: 'touches', rowsChanged: { 'Billing.Invoices': { inserted: 0, updated: 2, deleted: 0 }, 'public.accounts': { inserted: 1, updated: 0, deleted: 0 } } });
    expect(await snapshot(database.db)).toEqual(before);
  });

  it('refuses to apply a snippet the ledger already has, as a transition, and leaves the work and the ledger as they were', async () => {
    const writes = atomicWrites(database, { atomic: [true, true], dryRun: false });
    await writes.at(0).apply(settings, payInvoices('0001_pay', 1));
    const before = await snapshot(database.db);
    const error = await writes
      .at(1)
      .apply(settings, payInvoices('0001_pay', 3))
      .catch((e: unknown) => e);
    await writes.abandon();
    expect(error).toBeInstanceOf(SafetyRefusal);
    expect((error as SafetyRefusal).check).toBe('transition');
    expect((error as Error).message).toMatch(/0001_pay: the ledger has it applied, and a snippet that is applied cannot become applied; nothing was written/);
    expect(await snapshot(database.db)).toEqual(before);
  });

  it('rolls back work that fails, records nothing, and the next snippet of the run still commits', async () => {
    const writes = atomicWrites(database, { atomic: [true, true, true], dryRun: false });
    await writes.at(0).apply(settings, payInvoices('0001_pay', 1));
    const before = await snapshot(database.db);
    const failing: AtomicWork<string> = async (tx) => {
      await tx.execute(sql`update "Billing"."Invoices" set "Paid" = true`);
      throw new Error('up failed');
    };
    await expect(writes.at(1).apply(settings, failing)).rejects.toThrow('up failed');
    expect(await snapshot(database.db)).toEqual(before);
    await writes.at(2).apply(settings, payInvoices('0003_pay', 3));
    await writes.finish();
    expect((await snippetStore(database.db, REPO).ledger()).map((r) => r.id)).toEqual(['0001_pay', '0003_pay']);
  });

  it('records the outcome of a snippet that stopped before taking the transaction begun for it, and leaves the connection free', async () => {
    const writes = atomicWrites(database, { atomic: [true, true], dryRun: false });
    await writes.at(0).apply(settings, payInvoices('0001_pay', 1));
    // 0002 fails before its work (say, a touches entry naming no table): its attempt goes on record.
    await writes.recordOutcome(REPO, [
      { repo: REPO, snippetId: '0002_pay', kind: 'started', checksum: 'sum-0002_pay', ...audit },
      { repo: REPO, snippetId: '0002_pay', kind: 'failed', checksum: 'sum-0002_pay', ...audit, reason: 'touches names no table' },
    ]);
    await writes.finish();
    const probe = await database.db.execute(sql`savepoint probe`).then(
      () => undefined,
      (error: Error) => error.cause,
    );
    expect(String(probe)).toMatch(/transaction blocks/);
    // Committed: seen from another session too.
    const seen = server ? await server.query<{ kind: string }>("select kind from snippets.events where snippet_id = '0002_pay' order by seq") : await queryRows<{ kind: string }>(database.db, sql`select kind from snippets.events where snippet_id = '0002_pay' order by seq`);
    expect(seen.map((e) => e.kind)).toEqual(['started', 'failed']);
  });

  it('checks and counts a dry run’s work without recording it', async () => {
    const before = await snapshot(database.db);
    await database.db
      .transaction(async (tx) => {
        const closed = await atomicWrites({ db: tx as unknown as SnippetDb }, { atomic: [true], dryRun: true })
          .at(0)
          .apply(settings, payInvoices('0001_pay', 3, { dryRun: true }));
        expect(closed.rowsChanged).toEqual({ 'Billing.Invoices': { inserted: 0, updated: 3, deleted: 0 } });
        expect(await snippetStore(tx as unknown as SnippetDb, REPO).ledger()).toEqual([]);
        throw new Error('roll the dry run back');
      })
      .catch(() => undefined);
    expect(await snapshot(database.db)).toEqual(before);
  });
});
