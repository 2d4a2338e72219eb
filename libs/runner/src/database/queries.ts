/** How the runner sends SQL on a connection or transaction of either driver. */
import { DrizzleQueryError, type SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import type { SnippetDb } from './snippet-db.ts';

/**
 * The rows of a query, on postgres.js straight from its driver: what `db.execute` sends
 * and returns, without drizzle's layers of async wrappers (tracing spans, the query cache
 * check), whose promises every snippet's `rows()` paid for. A failure is drizzle's
 * DrizzleQueryError, as from `db.execute`. On PGlite, `db.execute` (it returns `{ rows }`).
 */
export async function queryRows<Row extends Record<string, unknown>>(db: SnippetDb, query: SQL): Promise<Row[]> {
  const client = (db._ as unknown as { session: { client: { unsafe?(text: string, params: unknown[], options: { prepare: boolean }): Promise<unknown> } } }).session.client;
  if (!client.unsafe) return rowsOf<Row>(await db.execute(query));
  const { sql: text, params } = dialect.sqlToQuery(query);
  return client.unsafe(text, params, { prepare: false }).then(rowsOf<Row>, (error: unknown) => {
    throw new DrizzleQueryError(text, params, error as Error);
  });
}

function rowsOf<Row>(result: unknown): Row[] {
  if (Array.isArray(result)) return result as Row[];
  return ((result as { rows?: Row[] }).rows ?? []) as Row[];
}

const dialect = new PgDialect();

/** A statement as the driver takes it: its text and its parameters. */
export interface Statement {
  text: string;
  params: unknown[];
}

/** drizzle's SQL object as text and parameters, built once for a statement sent many times. */
export function toStatement(query: SQL): Statement {
  const { sql: text, params } = dialect.sqlToQuery(query);
  return { text, params };
}

/**
 * Runs a SQL script of many statements (a schema file) as one simple query: postgres.js
 * sends a query without parameters that way, PGlite's exec does.
 */
export async function runScript(db: SnippetDb, script: string): Promise<void> {
  const client = (db._ as unknown as { session: { client: { unsafe?(text: string): PromiseLike<unknown>; exec?(text: string): Promise<unknown> } } }).session.client;
  if (client.exec) await client.exec(script);
  else await client.unsafe!(script);
}

type DriverClient =
  | { unsafe(text: string, params: unknown[], options: { prepare: boolean }): Promise<unknown> }
  | { query(text: string, params: unknown[]): Promise<{ rows: unknown[] }> };

/**
 * Runs one of the statements the runner sends for every snippet straight on the driver of
 * `db` (inside its transaction when `db` is one), prepared: PostgreSQL parses and plans it
 * once per connection, and no query is built in JavaScript per call. The statement is
 * sent before this returns, so statements sent after it run after it.
 */
export function queryPrepared<Row extends Record<string, unknown>>(db: SnippetDb, statement: Statement): Promise<Row[]> {
  const client = (db._ as unknown as { session: { client: DriverClient } }).session.client;
  if ('unsafe' in client) {
    // postgres.js sends a query when first awaited; then() sends it now, in one step, as each
    // then/execute of its query makes promises of its own.
    return client.unsafe(statement.text, statement.params, { prepare: true }).then(rowsOf<Row>);
  }
  return client.query(statement.text, statement.params).then(rowsOf<Row>);
}
