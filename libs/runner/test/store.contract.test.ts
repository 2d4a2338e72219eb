import { sql } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CHANGE_COUNTS } from '../src/checks/change-counts.ts';
import { openDatabase, parseDatabaseUrl, type Database } from '../src/database/database.ts';
import { SafetyRefusal } from '../src/errors.ts';
import { queryRows } from '../src/database/queries.ts';
import { SchemaBaseline } from '../src/checks/schema-fingerprint.ts';
import { CHECK_SCHEMA_FUNCTION, checkAndRecord } from '../src/store/closing-statement.ts';
import { snippetStore, type EventInsert, type NewLedgerRow, type SnippetStore } from '../src/store/snippet-store.ts';
import type { LedgerStatus } from '../src/store/transitions.ts';
import { walkRanges, type ClaimedRange } from '../src/store/walk-ranges.ts';
import { releaseLeases } from '../src/store/release-leases.ts';
import type { RefusalCheck } from '../src/errors.ts';
import { createTestDatabase, type Driver, type TestDatabase } from './support/databases.ts';

const REPO = 'contract';
const audit = { executedBy: 'tester', host: 'ci', gitSha: 'abc123', image: null, approvedBy: 'reviewer', ciRunUrl: null, servicePackage: null, serviceVersion: null };

const row = (id: string, status: LedgerStatus, number = Number(id.slice(0, 4))): NewLedgerRow => ({
  repo: REPO,
  id,
  number,
  checksum: `sum-${id}`,
  status,
  ...audit,
  startedAt: new Date('2026-12-01T10:00:00Z'),
  finishedAt: new Date('2026-12-01T10:00:01Z'),
  durationMs: 1000,
});
const event = (id: string, kind: EventInsert['kind']): EventInsert => ({ repo: REPO, snippetId: id, kind, checksum: `sum-${id}`, ...audit });

/** Everything the store writes, in a stable order: what "the database is unchanged" compares. */
async function snapshot(db: Database['db']): Promise<unknown> {
  const read = (query: string) => queryRows(db, sql.raw(query));
  return {
    ledger: await read(`select * from snippets.ledger order by repo, id`),
    events: await read(`select * from snippets.events order by seq`),
    checkpoints: await read(`select repo, id, state from snippets.checkpoints order by repo, id`),
    ranges: await read(`select * from snippets.ranges order by repo, id, walk, range_no`),
    locks: await read(`select * from snippets.locks order by name`),
  };
}

/** A write that is allowed to find nothing to do: it returns, and the store's tables are as they were. */
async function expectUnchanged<T>(db: Database['db'], write: () => Promise<T>): Promise<T> {
  const before = await snapshot(db);
  const result = await write();
  expect(await snapshot(db)).toEqual(before);
  return result;
}

/** The write fails as a refused transition (or `check`), and the store's tables are as they were. */
async function expectRefusedUnchanged(db: Database['db'], write: () => Promise<unknown>, message: RegExp, check: RefusalCheck = 'transition'): Promise<void> {
  const before = await snapshot(db);
  const error = await write().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SafetyRefusal);
  expect((error as SafetyRefusal).check).toBe(check);
  expect((error as SafetyRefusal).exitCode).toBe(3);
  expect((error as Error).message).toMatch(message);
  expect(await snapshot(db)).toEqual(before);
}

describe.each<Driver>(['postgres', 'pglite'])('the ledger store on %s', (driver) => {
  let server: TestDatabase | undefined;
  let database: Database;
  let store: SnippetStore;

  beforeEach(async () => {
    server = driver === 'postgres' ? await createTestDatabase('postgres') : undefined;
    database = await openDatabase(parseDatabaseUrl(server?.url ?? 'pglite:memory', process.cwd()));
    store = snippetStore(database.db, REPO);
    await store.upgrade();
  });

  afterEach(async () => {
    await database.close();
    await server?.dispose();
  });

  it('creates the ledger once, at the newest version, with the schema check named after its fingerprint query', async () => {
    await store.upgrade(); // a second time changes nothing
    const [meta] = await queryRows<{ value: string }>(database.db, sql`select value from snippets.meta where key = 'schema_version'`);
    expect(meta?.value).toBe('8');
    const [functions] = await queryRows<{ named: boolean; first: boolean }>(
      database.db,
      sql`select to_regprocedure(${`${CHECK_SCHEMA_FUNCTION}(text)`}) is not null as named, to_regprocedure('snippets.check_schema(text)') is not null as first`,
    );
    expect(functions).toEqual({ named: true, first: false });
  });

  it('reinstalls a missing schema check function when it opens the ledger, as after the fingerprint query changed', async () => {
    await database.db.execute(sql.raw(`drop function ${CHECK_SCHEMA_FUNCTION}(text)`));
    await store.upgrade();
    const [installed] = await queryRows<{ ok: boolean }>(database.db, sql`select to_regprocedure(${`${CHECK_SCHEMA_FUNCTION}(text)`}) is not null as ok`);
    expect(installed?.ok).toBe(true);
  });

  it('records, reads back and reverts a snippet along the table', async () => {
    expect(await store.exists()).toBe(true);
    await database.db.transaction(async (tx) => snippetStore(tx, REPO).record(row('0001_fix', 'applied'), [event('0001_fix', 'started'), event('0001_fix', 'applied')]));
    await store.recordMany([row('0002_old', 'baselined'), row('0003_older', 'baselined')], [event('0002_old', 'baselined'), event('0003_older', 'baselined')]);
    await store.markReverted('0001_fix', { ...event('0001_fix', 'reverted'), reason: 'wrong accounts' });

    expect((await store.ledger()).map((r) => [r.id, r.status])).toEqual([
      ['0001_fix', 'reverted'],
      ['0002_old', 'baselined'],
      ['0003_older', 'baselined'],
    ]);
    expect((await store.planLedger()).map((r) => r.finishedAt?.toISOString())).toEqual(Array(3).fill('2026-12-01T10:00:01.000Z'));
    expect((await store.events('0001_fix')).map((e) => e.kind)).toEqual(['started', 'applied', 'reverted']);
    expect(await snippetStore(database.db, 'another-repo').ledger()).toEqual([]);
  });

  it('refuses to revert a snippet that is pending, baselined or already reverted, and writes nothing', async () => {
    await store.record(row('0001_fix', 'applied'), []);
    await store.recordMany([row('0002_old', 'baselined')], []);
    await store.markReverted('0001_fix', event('0001_fix', 'reverted'));

    await expectRefusedUnchanged(database.db, () => store.markReverted('0009_never_ran', event('0009_never_ran', 'reverted')), /0009_never_ran: the ledger has it pending/);
    await expectRefusedUnchanged(database.db, () => store.markReverted('0002_old', event('0002_old', 'reverted')), /0002_old: the ledger has it baselined.*cannot become reverted/);
    await expectRefusedUnchanged(database.db, () => store.markReverted('0001_fix', event('0001_fix', 'reverted')), /0001_fix: the ledger has it reverted/);
  });

  it('refuses to record a snippet the ledger already has, whatever its status, and writes none of the batch', async () => {
    await store.record(row('0001_fix', 'applied'), []);
    await store.markReverted('0001_fix', event('0001_fix', 'reverted'));
    await store.record(row('0002_fix', 'applied'), []);

    await expectRefusedUnchanged(database.db, () => store.record(row('0001_fix', 'applied'), [event('0001_fix', 'applied')]), /0001_fix: the ledger has it reverted.*cannot become applied/);
    await expectRefusedUnchanged(database.db, () => store.record(row('0002_fix', 'squashed'), [event('0002_fix', 'squashed')]), /0002_fix: the ledger has it applied/);
    // A baseline of many: the one already applied refuses all of them, the rows before it included.
    await expectRefusedUnchanged(
      database.db,
      () => store.recordMany([row('0000_first', 'baselined', 0), row('0002_fix', 'baselined'), row('0003_next', 'baselined')], [event('0000_first', 'baselined')]),
      /0002_fix: the ledger has it applied/,
    );
  });

  it('refuses to write a row straight to reverted', async () => {
    await expectRefusedUnchanged(database.db, () => store.record(row('0001_fix', 'reverted'), []), /0001_fix: the ledger has it pending.*cannot become reverted/);
  });

  it("refuses the atomic snippet's closing statement for a snippet the ledger already has, and the transaction leaves nothing", async () => {
    await store.record(row('0001_fix', 'applied'), []);
    const before = await snapshot(database.db);
    const schema = await new SchemaBaseline().read(database.db);
    const attempt = database.db.transaction(async (tx) => {
      const [{ counts } = { counts: '' }] = await queryRows<{ counts: string }>(tx, sql.raw(`select ${CHANGE_COUNTS}::text as counts`));
      const [{ micros } = { micros: '' }] = await queryRows<{ micros: string }>(tx, sql`select (extract(epoch from clock_timestamp()) * 1000000)::bigint::text as micros`);
      await checkAndRecord(
        tx,
        { before: counts, touches: [], schemaHash: schema.hash },
        { repo: REPO, id: '0001_fix', number: 1, checksum: 'sum-0001_fix', description: undefined, audit, startedMicros: Number(micros), verify: null, withStartedEvent: true },
      );
    });
    await expect(attempt).rejects.toThrow();
    expect(await snapshot(database.db)).toEqual(before);
  });

  it('leads, resumes and closes a batched snippet’s checkpoint, never while a range is open or for another version', async () => {
    await store.leadCheckpoint('0004_backfill', 'sum-v1');
    await store.leadCheckpoint('0004_backfill', 'sum-v1'); // a resumed run takes over as leader
    expect(await store.checkpoint('0004_backfill')).toMatchObject({ checksum: 'sum-v1' });

    await expectRefusedUnchanged(database.db, () => store.leadCheckpoint('0004_backfill', 'sum-v2'), /0004_backfill: its checkpoint belongs to another version/);

    await database.db.execute(
      sql`insert into snippets.ranges (repo, id, walk, range_no, rows_total, changes, done)
          values (${REPO}, '0004_backfill', 'accounts', 0, 10, '{"public.accounts": {"inserted": 0, "updated": 4, "deleted": 0}}', true),
                 (${REPO}, '0004_backfill', 'accounts', 1, 10, '{"public.accounts": {"inserted": 0, "updated": 3, "deleted": 0}}', false)`,
    );
    await expectRefusedUnchanged(database.db, () => store.closeCheckpoint('0004_backfill'), /0004_backfill: is mid-walk, with key ranges still open/);
    await expectRefusedUnchanged(database.db, () => store.closeCheckpoint('0005_never_started'), /0005_never_started: has no checkpoint/);

    await database.db.execute(sql`update snippets.ranges set done = true where id = '0004_backfill'`);
    expect(await store.committedChanges('0004_backfill', { checksum: 'sum-v1' })).toEqual({ 'public.accounts': { inserted: 0, updated: 7, deleted: 0 } });
    expect([...(await store.checkpoints()).keys()]).toEqual(['0004_backfill']);
    await store.closeCheckpoint('0004_backfill');
    expect(await store.checkpoint('0004_backfill')).toBeUndefined();
    expect(await queryRows(database.db, sql`select 1 from snippets.ranges`)).toEqual([]);
  });

  it('splits a walk into key ranges once, moves an open range batch by batch, and refuses to move a range that is done', async () => {
    await store.leadCheckpoint('0004_backfill', 'sum-v1');
    const ranges = walkRanges(database.db, REPO, '0004_backfill');
    const split = async () => [
      { lo: null, hi: 10, rows: 10 },
      { lo: 10, hi: null, rows: 5 },
    ];
    expect(await ranges.open('accounts', split)).toEqual({ ranges: 2, open: 2, total: 15, rows: 0, batches: 0 });
    // Split already: the walk's ranges are found, not split again.
    const splitAgain = async () => expect.unreachable('a walk is split once');
    expect(await expectUnchanged(database.db, () => ranges.open('accounts', splitAgain))).toMatchObject({ ranges: 2, open: 2 });
    expect(await walkRanges(database.db, REPO, '0005_never_started').open('accounts', split)).toBeUndefined();

    const claimed = await ranges.claim('accounts', 1);
    expect(claimed).toEqual({ walk: 'accounts', rangeNo: 1, lo: 10, hi: null, cursor: null, changes: {} });
    const updated = { 'public.accounts': { inserted: 0, updated: 2, deleted: 0 } };
    expect(await ranges.advance(claimed!, { last: 12, rows: 2, changes: updated, done: false })).toEqual({ rows: 2, batches: 1, total: 15 });
    const resumed = (await ranges.claim('accounts', 1))!;
    expect(resumed).toMatchObject({ rangeNo: 1, cursor: 12, changes: updated });
    expect(await ranges.advance(resumed, { last: 15, rows: 3, changes: updated, done: true })).toEqual({ rows: 5, batches: 2, total: 15 });
    expect(await ranges.progress('accounts')).toMatchObject({ open: 1, rows: 5, batches: 2 });
    expect(await store.committedChanges('0004_backfill', { checksum: 'sum-v1' })).toEqual({ 'public.accounts': { inserted: 0, updated: 4, deleted: 0 } });

    // Range 1 is done: its cursor never moves again, and it is not finished twice.
    await expectRefusedUnchanged(
      database.db,
      () => ranges.advance(resumed, { last: 20, rows: 1, changes: updated, done: false }),
      /0004_backfill: range 1 of walk accounts is done, and a range that is done cannot become open; nothing was written/,
    );
    await expectRefusedUnchanged(database.db, () => ranges.advance(resumed, { last: null, rows: 0, changes: {}, done: true }), /0004_backfill: range 1 of walk accounts is done.*cannot become done/);
    const missing: ClaimedRange = { ...resumed, rangeNo: 7 };
    await expectRefusedUnchanged(database.db, () => ranges.advance(missing, { last: 1, rows: 1, changes: {}, done: false }), /0004_backfill: range 7 of walk accounts does not exist/);

    // The one left open is claimed; once it is done too, finding none to claim is no error.
    const last = (await ranges.claim('accounts', 1))!;
    expect(last.rangeNo).toBe(0);
    await ranges.advance(last, { last: 10, rows: 10, changes: {}, done: true });
    expect(await expectUnchanged(database.db, () => ranges.claim('accounts', 0))).toBeUndefined();
    await store.closeCheckpoint('0004_backfill');
    await expectRefusedUnchanged(database.db, () => ranges.advance(last, { last: 11, rows: 1, changes: {}, done: false }), /0004_backfill: range 0 of walk accounts does not exist/);
  });

  it('takes, renews and releases a release lease, and refuses to release one another holder has', async () => {
    const leases = releaseLeases(database.db);
    const taken = await leases.tryAcquire('releases', 'deploy-a', 60_000);
    expect(taken).toMatchObject({ acquired: true, lease: { name: 'releases', holder: 'deploy-a', ttlMs: 60_000, live: true } });

    // Held by deploy-a: another holder neither takes nor renews it, and writes nothing.
    expect(await expectUnchanged(database.db, () => leases.tryAcquire('releases', 'deploy-b', 60_000))).toMatchObject({ acquired: false, lease: { holder: 'deploy-a' } });
    expect(await expectUnchanged(database.db, () => leases.renew('releases', 'deploy-b'))).toBe(false);
    await expectRefusedUnchanged(
      database.db,
      () => leases.release('releases', 'deploy-b'),
      /^release lock 'releases' is held by deploy-a since \S+ \(until \S+ unless renewed\), not by deploy-b; release it with its holder's --holder$/,
      'lock-held',
    );

    expect(await leases.renew('releases', 'deploy-a')).toBe(true);
    expect(await leases.release('releases', 'deploy-a')).toMatchObject({ released: true, lease: { holder: 'deploy-a' } });
    expect(await leases.read('releases')).toBeUndefined();
    expect(await expectUnchanged(database.db, () => leases.release('releases', 'deploy-a'))).toEqual({ released: false, lease: undefined });

    // An expired lease is nobody's: releasing it is no refusal and leaves it, taking it replaces its holder.
    await leases.tryAcquire('releases', 'deploy-a', 60_000);
    await database.db.execute(sql`update snippets.locks set expires_at = now() - interval '1 second' where name = 'releases'`);
    expect(await expectUnchanged(database.db, () => leases.release('releases', 'deploy-b'))).toEqual({ released: false, lease: undefined });
    expect(await expectUnchanged(database.db, () => leases.renew('releases', 'deploy-a'))).toBe(false);
    expect(await leases.tryAcquire('releases', 'deploy-b', 60_000)).toMatchObject({ acquired: true, lease: { holder: 'deploy-b', live: true } });
    expect(await leases.now()).toBeInstanceOf(Date);
  });
});
