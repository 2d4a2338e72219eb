import postgres from 'postgres';

export const SERVER_URL = process.env.SNIPPETS_TEST_SERVER_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const admin = postgres(SERVER_URL, { max: 1, onnotice: () => {} });
let created = 0;

export interface FreshDatabase {
  url: string;
  /** One statement on a short-lived connection, so no connection of ours lingers beside the tool's. */
  query<Row extends Record<string, unknown>>(text: string): Promise<Row[]>;
  /** Transactions committed in this database so far, once every connection to it has closed. */
  commits(): Promise<number>;
}

/**
 * Transactions the statistics count for `name`. A backend flushes its counts when it
 * exits, before it leaves pg_stat_activity, so once no backend is left the count is whole.
 */
async function settledCommits(name: string): Promise<number> {
  for (let waited = 0; ; waited += 20) {
    const [row] = await admin<{ n: number }[]>`select count(*)::int as n from pg_stat_activity where datname = ${name}`;
    if (row!.n === 0) break;
    if (waited > 10_000) throw new Error(`connections to ${name} did not close`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await admin`select pg_stat_clear_snapshot()`;
  const [row] = await admin<{ n: string }[]>`select xact_commit as n from pg_stat_database where datname = ${name}`;
  return Number(row!.n);
}

/** A database of its own for one measurement, dropped afterwards whatever happens. */
export async function withFreshDatabase<T>(work: (database: FreshDatabase) => Promise<T>): Promise<T> {
  const name = `bench_runner_${process.pid}_${++created}`;
  const url = Object.assign(new URL(SERVER_URL), { pathname: `/${name}` }).toString();
  await admin.unsafe(`create database ${name}`);
  try {
    return await work({
      url,
      query: async (text) => {
        const client = postgres(url, { max: 1, onnotice: () => {} });
        try {
          return await client.unsafe(text);
        } finally {
          await client.end();
        }
      },
      commits: () => settledCommits(name),
    });
  } finally {
    await admin.unsafe(`drop database if exists ${name} with (force)`);
  }
}

/** What decides the cost of a commit on this server, for the report. */
export async function serverDetails(): Promise<{ version: string; fsync: string; synchronousCommit: string }> {
  const [row] = await admin<{ version: string; fsync: string; synchronous_commit: string }[]>`
    select current_setting('server_version') as version, current_setting('fsync') as fsync,
           current_setting('synchronous_commit') as synchronous_commit`;
  return { version: row!.version, fsync: row!.fsync, synchronousCommit: row!.synchronous_commit };
}

export const closeServer = () => admin.end();
