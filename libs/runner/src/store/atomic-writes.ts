import { sql } from 'drizzle-orm';
import type { TableChanges } from '../checks/change-counts.ts';
import { pgErrorCode } from '../database/pg-errors.ts';
import type { PipelinedConnection } from '../database/pipelined-transactions.ts';
import { queryPrepared } from '../database/queries.ts';
import type { SnippetDb } from '../database/snippet-db.ts';
import { checkAndRecord, checkClosing, type AppliedRecord, type ClosingInput, type Recorded } from './closing-statement.ts';
import type { NewEvent } from './ledger-schema.ts';
import { snippetStore } from './snippet-store.ts';
import { readStart, startStatement, startTransaction, type StartRow, type TransactionSettings, type TransactionStart } from './transaction-start.ts';

/** What an atomic snippet's work hands back, inside its transaction, to be closed. */
export interface AtomicOutcome<T> {
  value: T;
  closing: ClosingInput;
  /** The ledger row recorded with the checks; none under a dry run, whose changes are only checked and counted. */
  record?: AppliedRecord;
}

/**
 * An atomic snippet's work: `start` is the outcome of its transaction's start statement,
 * sent ahead of the work's own statements; the work awaits it before closing.
 */
export type AtomicWork<T> = (tx: SnippetDb, start: Promise<TransactionStart>) => Promise<AtomicOutcome<T>>;

/** A closed atomic transaction: the work's value, the rows it changed, and with a ledger row the duration the server measured. */
export type Closed<T> = { value: T; rowsChanged: TableChanges; durationMs?: number };

/** The server refused the COMMIT of a transaction whose ledger row went in (a deferred constraint, a serialization failure): it rolled back. */
export class CommitFailed extends Error {
  constructor(cause: unknown) {
    super('the server refused the COMMIT; the transaction rolled back', { cause });
  }
}

/** One atomic snippet's transaction. */
export interface AtomicTransaction {
  /**
   * Opens the transaction, starts it (timeouts, repo lock, change counts, clock), runs
   * `work`, and closes it: the closing statement checks the changes against `touches` and
   * the schema and, given a ledger row, records it and its events; then COMMIT. A refusing
   * check fails with the closing statement's error (see `readRefusal`), a ledger that
   * already has the snippet with a 'transition' refusal, and nothing is written.
   */
  apply<T>(settings: TransactionSettings, work: AtomicWork<T>): Promise<Closed<T>>;
}

/** How a run's atomic snippets commit, one after another on its connection. */
export interface AtomicWrites {
  /** The transaction of the run's `index`-th pending snippet (an atomic one). */
  at(index: number): AtomicTransaction;
  /** A stopped snippet's outcome events, in a transaction of their own whose ordinary COMMIT makes every earlier one durable. */
  recordOutcome(repo: string, events: NewEvent[]): Promise<void>;
  /** Makes every commit so far durable, and leaves no transaction open on the connection. */
  finish(): Promise<void>;
  /** After an error: ends anything begun ahead and makes commits durable, never failing over the error that stopped the run. */
  abandon(): Promise<void>;
}

/** What the atomic writes of a run know of it. */
export interface RunShape {
  /** Per pending snippet, in order: whether it is one transaction of its own. */
  atomic: readonly boolean[];
  /** A dry run's snippets share one transaction, rolled back: nothing of theirs commits. */
  dryRun: boolean;
}

/**
 * The atomic writes of a run over `database`. On a PostgreSQL connection of the runner's
 * they are pipelined (see `pipelinedWrites`); inside a transaction (a dry run) and on
 * PGlite, plain. Both defer the WAL flush of every atomic snippet's COMMIT but the last.
 */
export function atomicWrites(database: { db: SnippetDb; pipelined?: PipelinedConnection }, run: RunShape): AtomicWrites {
  const flush = new DeferredFlush(database.db, run.dryRun ? [] : run.atomic);
  return database.pipelined && !run.dryRun ? pipelinedWrites(database.db, database.pipelined, run.atomic, flush) : plainWrites(database.db, flush);
}

/**
 * Which COMMITs of a run do not wait for the WAL flush (synchronous_commit off, for their
 * transaction only), and making them durable. Every atomic snippet's but the run's last,
 * whose ordinary COMMIT flushes the WAL up to itself and so makes every earlier one durable
 * too; a run that stops early flushes them (`abandon`). Until then a server crash may lose
 * the latest snippets, each with its ledger row: never one without the other.
 */
class DeferredFlush {
  /** A deferred-flush COMMIT that no ordinary one has followed yet. */
  private unflushed = false;

  constructor(
    private readonly db: SnippetDb,
    private readonly atomic: readonly boolean[],
  ) {}

  defers(index: number): boolean {
    return index < this.atomic.length - 1 && this.atomic[index] === true;
  }

  /** A transaction committed: deferred, or an ordinary COMMIT that made every earlier one durable. */
  committed(deferred: boolean): void {
    this.unflushed = deferred;
  }

  async finish(): Promise<void> {
    if (this.unflushed) await flushCommits(this.db);
    this.unflushed = false;
  }

  /** Never fails over the error that stopped the run. */
  async abandon(): Promise<void> {
    if (this.unflushed) await flushCommits(this.db).catch(() => undefined);
    this.unflushed = false;
  }
}

/** A stopped snippet's outcome events, in a transaction of their own whose ordinary COMMIT makes every earlier one durable. */
async function recordOutcome(db: SnippetDb, flush: DeferredFlush, repo: string, events: NewEvent[]): Promise<void> {
  if (!events.length) return;
  await snippetStore(db, repo).appendEvents(events);
  flush.committed(false);
}

/** Plain: the start, the work, the closing statement and COMMIT, each awaited in turn. A single transaction without a run: `plainWrites(db).at(0)`. */
export function plainWrites(db: SnippetDb, flush = new DeferredFlush(db, [])): AtomicWrites {
  const apply = async <T>(deferFlush: boolean, settings: TransactionSettings, work: AtomicWork<T>): Promise<Closed<T>> => {
    let recording: AppliedRecord | undefined;
    let recorded = false;
    try {
      const closed = await db.transaction(async (raw) => {
        const tx = raw as unknown as SnippetDb;
        const start = await startTransaction(tx, settings, deferFlush);
        const { value, closing, record } = await work(tx, Promise.resolve(start));
        if (!record) return { value, rowsChanged: await checkClosing(tx, closing) };
        recording = record;
        const closedWith = await checkAndRecord(tx, closing, record);
        recorded = true;
        return { value, ...closedWith };
      });
      flush.committed(deferFlush);
      return closed;
    } catch (error) {
      // The work and its ledger row went in, and COMMIT failed.
      if (recorded && pgErrorCode(error)) throw new CommitFailed(error);
      throw recording ? await ledgerRefusal(db, recording, error) : error;
    }
  };
  return {
    at: (index) => ({ apply: (settings, work) => apply(flush.defers(index), settings, work) }),
    recordOutcome: (repo, events) => recordOutcome(db, flush, repo, events),
    finish: () => flush.finish(),
    abandon: () => flush.abandon(),
  };
}

/**
 * The error a failed closing statement stands for: one that met the snippet's ledger row
 * already there is a move the ledger does not allow, read once the transaction rolled back.
 */
async function ledgerRefusal(db: SnippetDb, record: AppliedRecord, error: unknown): Promise<unknown> {
  if (pgErrorCode(error) !== '23505') return error; // unique_violation: the ledger's key
  return snippetStore(db, record.repo).refusalOf(record.id, 'applied');
}

/**
 * Pipelined, on the runner's PostgreSQL connection: BEGIN goes with the start statement,
 * the closing statement goes ahead of COMMIT without waiting for its outcome, COMMIT does
 * not wait for the WAL flush but at the end, and the next snippet's transaction is begun
 * behind this one's COMMIT. One round trip per snippet where the plain way takes four.
 */
function pipelinedWrites(db: SnippetDb, connection: PipelinedConnection, atomic: readonly boolean[], flush: DeferredFlush): AtomicWrites {
  const apply = async <T>(index: number, settings: TransactionSettings, work: AtomicWork<T>): Promise<Closed<T>> => {
    const deferFlush = flush.defers(index);
    // The next snippet is atomic too: its transaction is begun right behind this one's
    // COMMIT, with its start statement, so the server works on it while the runner reads
    // this one's outcome. Should this snippet fail, it is rolled back.
    const beginNext = atomic[index] && atomic[index + 1];
    // The closing statement's outcome: sent ahead of COMMIT, awaited after it.
    let recorded: Promise<Recorded> | undefined;
    let recording: AppliedRecord | undefined;
    try {
      const { value, checked } = await connection.db.transaction(async (raw) => {
        const tx = raw as unknown as SnippetDb;
        // Sent ahead of the work's statements and read after them, saving a round trip: the
        // driver keeps a connection's statements in order, so the timeouts bind the work and
        // the counts are taken before it. A lost repo lock, or a failed start, still wins
        // over the work's outcome, and nothing has committed.
        const first = startStatement(settings, deferFlush);
        const start = readStart(connection.takeBegunAhead<StartRow>(first) ?? queryPrepared<StartRow>(tx, first), settings);
        start.catch(() => {}); // awaited by the work; not an unhandled rejection while it runs
        const outcome = await work(tx, start);
        if (!outcome.record) return { value: outcome.value, checked: await checkClosing(tx, outcome.closing) };
        // Not awaited: COMMIT follows in the same round trip. Should a check refuse, the
        // statement fails and the server answers COMMIT with a rollback; the outcome says which.
        recording = outcome.record;
        recorded = checkAndRecord(tx, outcome.closing, outcome.record);
        recorded.catch(() => {}); // awaited after COMMIT
        if (beginNext) connection.beginNextAfterCommit(startStatement(settings, flush.defers(index + 1)));
        return { value: outcome.value, checked: undefined };
      });
      const closed = recorded ? { value, ...(await recorded) } : { value, rowsChanged: checked! };
      flush.committed(deferFlush);
      return closed;
    } catch (error) {
      // The next snippet's transaction, begun behind a COMMIT that rolled back or failed, is not for now.
      await connection.discardBegunAhead();
      // A refusing closing statement, or a COMMIT that failed after one: the refusal says more.
      const refused: unknown = recorded && (await recorded.then(() => undefined, (refusal: unknown) => refusal));
      if (refused) throw await ledgerRefusal(db, recording!, refused);
      // The ledger row went in, and the server refused the COMMIT itself. A lost connection leaves the outcome unknown.
      if (recorded && pgErrorCode(error)) throw new CommitFailed(error);
      throw error;
    }
  };

  return {
    at: (index) => ({ apply: (settings, work) => apply(index, settings, work) }),
    // The snippet whose transaction was begun ahead may have stopped before taking it (a
    // touches entry naming no table fails before its work): anything else on the
    // connection would run, and roll back, inside it.
    async recordOutcome(repo, events) {
      await connection.discardBegunAhead();
      await recordOutcome(db, flush, repo, events);
    },
    async finish() {
      await connection.discardBegunAhead();
      await flush.finish();
    },
    async abandon() {
      await connection.discardBegunAhead();
      await flush.abandon();
    },
  };
}

/**
 * Makes every commit of the connection so far durable: a transaction that has an id
 * commits through a WAL flush up to its own commit record, which covers every earlier
 * one. It writes no row.
 */
async function flushCommits(db: SnippetDb): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.execute(sql`select pg_current_xact_id()`);
  });
}
