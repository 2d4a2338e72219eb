import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { asRunner } from './connection-guard.ts';
import type { SnippetDb } from './snippet-db.ts';
import { describeCause, InputError, SafetyRefusal } from '../errors.ts';
import { pipelineConnection, type PipelinedConnection } from './pipelined-transactions.ts';

/** Where the ledger and the data live, parsed from DATABASE_URL. */
export type DatabaseTarget =
  | { driver: 'postgres'; url: string; display: string }
  | { driver: 'pglite'; dataDir: string | undefined; display: string };

export interface Database {
  driver: DatabaseTarget['driver'];
  db: SnippetDb;
  /** On PostgreSQL, the same connection with its transactions pipelined, for atomic snippets (see the store's atomic writes). */
  pipelined?: PipelinedConnection;
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
  return {
    driver: 'postgres',
    db,
    pipelined: pipelineConnection(client, (pipelined) => drizzlePostgres({ client: pipelined }) as unknown as SnippetDb),
    display: target.display,
    close: () => client.end({ timeout: 5 }),
  };
}

/** Opens the database a DATABASE_URL value names; a relative `pglite:` directory is resolved against `cwd`. */
export function openDatabaseUrl(value: string, cwd: string): Promise<Database> {
  return openDatabase(parseDatabaseUrl(value, cwd));
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
