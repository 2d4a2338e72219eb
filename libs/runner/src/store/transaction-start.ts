import { sql } from 'drizzle-orm';
import { CHANGE_COUNTS } from '../checks/change-counts.ts';
import { repoLockForTransaction } from '../database/lock.ts';
import { queryPrepared, toStatement, type Statement } from '../database/queries.ts';
import { readServerTime, SERVER_CLOCK, type ServerClockRow, type ServerTime } from '../database/server-clock.ts';
import type { SnippetDb } from '../database/snippet-db.ts';
import { SafetyRefusal } from '../errors.ts';

/** What every transaction of a snippet's work starts under. */
export interface TransactionSettings {
  repo: string;
  timeouts: { statementMs: number; lockMs: number };
  /** Checked inside the transaction (see repoLockForTransaction); false where no lock is held: a test helper, a batch. */
  requireRepoLock: boolean;
}

/** What a transaction's start statement reads before any work. */
export interface TransactionStart {
  /** The change counts, as the server's JSON text: an atomic snippet only sends them back in its closing statement, so they are parsed only where compared. */
  counts: string;
  /** The server's clock_timestamp() when the transaction began its work. */
  clock: ServerTime;
}

/** Per settings: built once, sent prepared. */
const startStatements = new Map<string, Statement>();

/**
 * The statement that starts a transaction's work, as it runs for every snippet and batch:
 * the timeouts, the repo-lock check, and the change counts and clock before any work.
 * `deferFlush`: the transaction's COMMIT does not wait for the WAL flush (see atomic-writes.ts).
 */
export function startStatement(settings: TransactionSettings, deferFlush = false): Statement {
  const { statementMs, lockMs } = settings.timeouts;
  const key = `${settings.requireRepoLock ? settings.repo : ''}\n${statementMs}\n${lockMs}\n${deferFlush}`;
  let statement = startStatements.get(key);
  if (!statement) {
    const held = settings.requireRepoLock ? repoLockForTransaction(settings.repo) : sql`true`;
    // Left alone otherwise: the server's setting may ask more of a commit (a synchronous standby).
    const commitMode = deferFlush ? sql`set_config('synchronous_commit', 'off', true)` : sql`null`;
    statement = toStatement(
      sql`select set_config('statement_timeout', ${`${statementMs}ms`}, true) as statement_timeout,
                 set_config('lock_timeout', ${`${lockMs}ms`}, true) as lock_timeout,
                 ${commitMode} as synchronous_commit,
                 ${held} as held, ${sql.raw(CHANGE_COUNTS)}::text as counts, ${sql.raw(SERVER_CLOCK)}`,
    );
    startStatements.set(key, statement);
  }
  return statement;
}

export type StartRow = { held: boolean; counts: string } & ServerClockRow;

/** The start statement's outcome: a lost repo lock refuses, as the run's connection no longer holds it. */
export async function readStart(rows: Promise<StartRow[]>, settings: TransactionSettings): Promise<TransactionStart> {
  const [row] = await rows;
  if (row?.held !== true) {
    throw new SafetyRefusal(
      `another session holds the repo lock of '${settings.repo}', which this run's connection lost (was it reset?); run again`,
      'lock-held',
    );
  }
  return { counts: row.counts, clock: readServerTime(row) };
}

/** Starts the work of a transaction open on `tx`, in one round trip. */
export function startTransaction(tx: SnippetDb, settings: TransactionSettings, deferFlush = false): Promise<TransactionStart> {
  return readStart(queryPrepared<StartRow>(tx, startStatement(settings, deferFlush)), settings);
}
