import type postgres from 'postgres';
import type { SnippetDb } from './snippet-db.ts';
import type { Statement } from './queries.ts';

type Sql = ReturnType<typeof postgres>;
type Pending = ReturnType<Sql['unsafe']>;
type TransactionWork = (client: unknown) => Promise<unknown>;

/** A transaction begun right behind the previous one's COMMIT, with its first statement. */
interface BegunAhead {
  began: Pending;
  first: Pending;
  statement: Statement;
}

/** What the connection's pipelined transactions pass from one to the next. */
interface Pipeline {
  client: Sql;
  /** Sent behind the open transaction's COMMIT, when it commits (see `PipelinedConnection.beginNextAfterCommit`). */
  next?: Statement;
  /** Begun behind the last COMMIT, waiting for the next transaction to claim it. */
  waiting?: BegunAhead;
  /** Claimed by the open transaction as its own; its first statement takes the rows. */
  claimed?: BegunAhead;
}

/**
 * postgres.js sends a query when it is first awaited; this sends it now, and its outcome is
 * awaited later. Every then/catch/execute of a postgres.js query makes promises of its own
 * (see Query.handle): catch() alone both sends it and keeps a rejection from going unhandled.
 */
function sendNow(query: Pending): Pending {
  query.catch(() => {}); // awaited by whoever needs its outcome; never an unhandled rejection meanwhile
  return query;
}

/**
 * A client for drizzle whose transactions send BEGIN with their first statement, where
 * postgres.js waits for BEGIN's reply before sending it: one round trip less per snippet.
 * A transaction may also have the next one begun right behind its COMMIT, with that one's
 * first statement, so the server works on them while the runner reads the outcome.
 * Only for work that nothing runs beside on the connection (see `PipelinedConnection`): the
 * connection is the run's only one (max 1), so every statement sent while the transaction
 * is open is taken as the transaction's. Nested transactions are savepoints, as in postgres.js.
 */
function pipelinedClient(client: Sql, pipeline: Pipeline) {
  let savepoints = 0;
  const unsafe = preparingRepeats(client);
  const inTransaction = {
    options: client.options,
    unsafe,
    async savepoint(work: TransactionWork) {
      const name = `snippets_savepoint_${++savepoints}`;
      await client.unsafe(`savepoint ${name}`);
      try {
        const result = await work(inTransaction);
        await client.unsafe(`release savepoint ${name}`);
        return result;
      } catch (error) {
        await client.unsafe(`rollback to savepoint ${name}`);
        throw error;
      }
    },
  };
  return {
    options: client.options,
    unsafe: client.unsafe.bind(client),
    async begin(work: TransactionWork) {
      pipeline.claimed = pipeline.waiting;
      pipeline.waiting = undefined;
      const began = pipeline.claimed?.began ?? sendNow(client.unsafe('begin'));
      let result: unknown;
      try {
        result = await work(inTransaction);
        // Answered long ago; were it an error, the work ran outside a transaction and must not be reported as done.
        await began;
      } catch (error) {
        pipeline.next = undefined;
        await client.unsafe('rollback').catch(() => {});
        throw error;
      } finally {
        pipeline.claimed = undefined;
      }
      const next = pipeline.next;
      pipeline.next = undefined;
      // With a next transaction, COMMIT and its BEGIN are one simple query: one message and
      // one reply less. Should COMMIT fail, BEGIN does not run, and the caller discards it.
      const commit = sendNow(next ? client.unsafe('commit; begin').simple() : client.unsafe('commit'));
      if (next) pipeline.waiting = { began: commit, first: sendNow(client.unsafe(next.text, next.params as never, { prepare: true })), statement: next };
      await commit;
      return result;
    },
  };
}

const sameStatement = (a: Statement, b: Statement) => a === b || (a.text === b.text && a.params.length === b.params.length && a.params.every((param, i) => param === b.params[i]));

/**
 * A PostgreSQL connection of the runner's, as the store's atomic writes use it: a drizzle
 * database whose transactions send BEGIN with their first statement (`pipelinedClient`),
 * and the next transaction begun behind a COMMIT. Only for work nothing runs beside on the
 * connection: batched work may run several transactions at once and keeps postgres.js's own.
 */
export interface PipelinedConnection {
  /** Open an atomic snippet's transaction here. */
  db: SnippetDb;
  /**
   * Inside a transaction on `db`: once it commits, begin the connection's next transaction
   * right behind the COMMIT and send `first` in it, for the next one to take with
   * `takeBegunAhead`. Whoever might not take it ends it with `discardBegunAhead`.
   */
  beginNextAfterCommit(first: Statement): void;
  /**
   * The rows of `first` when the open transaction was begun ahead; undefined when it was
   * not. One begun ahead with another statement is a bug of the caller's: its settings
   * would stand in the transaction, so it fails rather than run the snippet under them.
   */
  takeBegunAhead<Row>(first: Statement): Promise<Row[]> | undefined;
  /**
   * Rolls back a transaction begun ahead that nothing took, so the connection is free for
   * anything else. It never fails: callers discard on their way out with another error,
   * which says more, and a connection too broken to roll back holds no transaction either.
   */
  discardBegunAhead(): Promise<void>;
}

/** Pipelines the transactions of `client`, the runner's only connection (max 1); `overClient` makes a drizzle database over a client. */
export function pipelineConnection(client: Sql, overClient: (client: Sql) => SnippetDb): PipelinedConnection {
  const pipeline: Pipeline = { client };
  return {
    db: overClient(pipelinedClient(client, pipeline) as unknown as Sql),
    beginNextAfterCommit(first) {
      pipeline.next = first;
    },
    takeBegunAhead<Row>(first: Statement) {
      const claimed = pipeline.claimed;
      if (!claimed) return undefined;
      pipeline.claimed = undefined;
      if (!sameStatement(claimed.statement, first)) throw new Error('the transaction was begun ahead for another first statement than its own');
      return claimed.first.then((rows) => rows as unknown as Row[]);
    },
    async discardBegunAhead() {
      const waiting = pipeline.waiting;
      if (!waiting) return;
      pipeline.waiting = undefined;
      await Promise.allSettled([waiting.began, waiting.first]);
      await client.unsafe('rollback').catch(() => {});
    },
  };
}

/** At most this many statements of snippets are kept prepared on a run's connection. */
const PREPARED_REPEATS = 1000;

/**
 * postgres.js sends a statement with parameters that is not prepared in two round trips:
 * it asks the server for the parameters' types first. A snippet's statement that runs a
 * second time on the connection (a loop, or snippets sharing a statement) is prepared, so
 * from then on it takes one, as JDBC prepares a statement from its fifth use. Bounded, as
 * each is kept by postgres.js and the server for the connection's life.
 */
function preparingRepeats(client: Sql): Sql['unsafe'] {
  const seen = new Set<string>();
  const prepared = new Set<string>();
  return ((text: string, params?: unknown[], options?: { prepare?: boolean }) => {
    if (!options?.prepare && params?.length) {
      if (!prepared.has(text) && seen.has(text) && prepared.size < PREPARED_REPEATS) prepared.add(text);
      else if (seen.size < PREPARED_REPEATS * 10) seen.add(text);
      if (prepared.has(text)) options = { ...options, prepare: true };
    }
    return client.unsafe(text, params as never, options);
  }) as Sql['unsafe'];
}
