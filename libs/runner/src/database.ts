import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import type { SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { asRunner } from './connection-guard.ts';
import type { SnippetDb } from './define-snippet.ts';
import { describeCause, InputError, SafetyRefusal } from './errors.ts';
import { pipelineAtomicTransactions } from './pipelined-transactions.ts';

/** Where the ledger and the data live, parsed from DATABASE_URL. */
export type DatabaseTarget =
  | { driver: 'postgres'; url: string; display: string }
  | { driver: 'pglite'; dataDir: string | undefined; display: string };

export interface Database {
  driver: DatabaseTarget['driver'];
  db: SnippetDb;
  /** Shown in output and the audit trail; never contains a password. */
  display: string;
  close(): Promise<void>;
}

const HELP = 'set DATABASE_URL to postgres://user@host:5432/db, pglite:<dir> or pglite:memory';

export function parseDatabaseUrl(value: string | undefined, cwd: string): DatabaseTarget {
  if (value === undefined || value.trim() === '') {
    throw new InputError(`DATABASE_URL is not set; ${HELP}`, { subject: 'DATABASE_URL' });
  }
  if (value.startsWith('pglite:')) {
    const location = value.slice('pglite:'.length);
    if (location === '') throw new InputError(`DATABASE_URL '${value}' names no PGlite directory; ${HELP}`, { subject: 'DATABASE_URL' });
    if (location === 'memory') return { driver: 'pglite', dataDir: undefined, display: 'pglite:memory' };
    const dataDir = path.resolve(cwd, location);
    return { driver: 'pglite', dataDir, display: `pglite:${dataDir}` };
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InputError(`DATABASE_URL is not a valid URL; ${HELP}`, { subject: 'DATABASE_URL' });
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new InputError(`DATABASE_URL has unsupported scheme '${url.protocol}'; ${HELP}`, { subject: 'DATABASE_URL' });
  }
  if (url.password) url.password = '***';
  return { driver: 'postgres', url: value, display: url.toString() };
}

/**
 * Opens one connection. A single connection is deliberate: the session-level advisory
 * lock, the snippet's transaction and its ledger row all live on it.
 */
export async function openDatabase(target: DatabaseTarget): Promise<Database> {
  if (target.driver === 'pglite') return openPglite(target.dataDir, target.display);
  const client = postgres(target.url, {
    max: 1,
    // 0 turns both off: the connection must live as long as the run, it holds the lock.
    idle_timeout: 0,
    max_lifetime: 0,
    connect_timeout: 10,
    connection: { application_name: 'snippets-runner' },
    onnotice: () => {},
  });
  try {
    // A runner killed mid-statement must release its lock and roll back promptly, not when
    // the statement ends: PostgreSQL 14+ can poll the client socket while a query runs.
    // Opened as the runner's: the connection guard lets only its sockets through while snippet code runs.
    // A scratch database refuses writes from every session but the runner's (see sealScratchDatabase).
    // Awaited inside: postgres.js starts a query, and opens its socket, when it is awaited.
    await asRunner(
      async () =>
        await client`select case when current_setting('server_version_num')::int >= 140000
                               then set_config('client_connection_check_interval', '1000', false) end,
                          case when current_setting('snippets.scratch', true) = 'on'
                               then set_config('default_transaction_read_only', 'off', false) end`,
    );
  } catch (error) {
    await client.end({ timeout: 1 });
    throw new InputError(`DATABASE_URL: cannot connect to ${target.display} (${describeCause(error)}); check the URL and that the server is up`, {
      subject: 'DATABASE_URL',
      cause: error,
    });
  }
  const db = drizzlePostgres({ client }) as unknown as SnippetDb;
  pipelineAtomicTransactions(db, client, (pipelined) => drizzlePostgres({ client: pipelined }) as unknown as SnippetDb);
  return {
    driver: 'postgres',
    db,
    display: target.display,
    close: () => client.end({ timeout: 5 }),
  };
}

/**
 * Makes a database the runner created for a test or a rehearsal read-only for every session
 * but the runner's own, which switch it back on connecting: service code that escapes the
 * connection guard (a child process, a native driver) is refused by the server itself.
 * Takes effect for sessions opened afterwards.
 */
export async function sealScratchDatabase(admin: postgres.Sql, name: string): Promise<void> {
  const quoted = `"${name.replaceAll('"', '""')}"`;
  await admin.unsafe(`alter database ${quoted} set default_transaction_read_only = on`);
  await admin.unsafe(`alter database ${quoted} set snippets.scratch = 'on'`);
}

/** How long a process waits for another one to close the same PGlite directory. */
const PGLITE_DIR_WAIT_MS = 120_000;

/**
 * PGlite is one process's database: two processes opening one directory would corrupt
 * it. A lock file beside the directory makes them take turns, which also makes
 * concurrent runners on PGlite serialise like advisory locks do on a server.
 */
async function lockPgliteDir(dataDir: string): Promise<() => Promise<void>> {
  await mkdir(dataDir, { recursive: true });
  const { default: lockfile } = await import('proper-lockfile');
  try {
    return await lockfile.lock(dataDir, {
      stale: 10_000,
      retries: { retries: PGLITE_DIR_WAIT_MS / 200, factor: 1, minTimeout: 200, maxTimeout: 200 },
    });
  } catch (error) {
    throw new SafetyRefusal(
      `pglite:${dataDir} is in use by another process for over ${PGLITE_DIR_WAIT_MS / 1000}s; wait for it to finish, or use PostgreSQL for concurrent runners`,
      'lock-held',
      { cause: error },
    );
  }
}

/** An in-memory PGlite database that starts as the snapshot (a data directory's tarball) holds it. */
export function openPgliteSnapshot(snapshot: Blob, display: string): Promise<Database> {
  return openPglite(undefined, display, snapshot);
}

async function openPglite(dataDir: string | undefined, display: string, snapshot?: Blob): Promise<Database> {
  // Loaded only for the embedded database: a run against a server never needs them.
  const [{ PGlite }, { drizzle: drizzlePglite }] = await Promise.all([import('@electric-sql/pglite'), import('drizzle-orm/pglite')]);
  const release = dataDir ? await lockPgliteDir(dataDir) : async () => {};
  let client: PGlite;
  try {
    client = await (snapshot ? PGlite.create({ loadDataDir: snapshot }) : PGlite.create(dataDir));
  } catch (error) {
    await release();
    throw new InputError(`DATABASE_URL: cannot open PGlite at ${display} (${describeCause(error)}); ${HELP}`, {
      subject: 'DATABASE_URL',
      cause: error,
    });
  }
  return {
    driver: 'pglite',
    db: drizzlePglite({ client }) as unknown as SnippetDb,
    display,
    close: async () => {
      await client.close();
      await release();
    },
  };
}

/** `db.execute` returns an array on postgres.js and `{ rows }` on PGlite; this hides the difference. */
export async function queryRows<Row extends Record<string, unknown>>(db: SnippetDb, query: SQL): Promise<Row[]> {
  return rowsOf<Row>(await db.execute(query));
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
  | { unsafe(text: string, params: unknown[], options: { prepare: boolean }): PromiseLike<unknown> & { execute(): unknown } }
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
    const query = client.unsafe(statement.text, statement.params, { prepare: true });
    query.execute(); // postgres.js sends a query when first awaited; this sends it now
    return Promise.resolve(query).then(rowsOf<Row>);
  }
  return client.query(statement.text, statement.params).then(rowsOf<Row>);
}
