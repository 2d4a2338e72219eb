import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { createTestDatabase, type TestDatabase } from './support/databases.ts';
import { createFixtureRepo, defaultConfig, type FixtureRepo } from './support/fixture-repo.ts';

/** A snippet that inserts `times` rows one statement at a time, then records which of its statements the session has prepared. */
function loopingSnippet(id: string, times: number): string {
  return `import { defineSnippet } from '@snippets/runner';

export default defineSnippet({
  description: 'insert ${times} rows one by one',
  touches: ['effects', 'prepared'],
  async up({ rows, sql }) {
    for (let i = 0; i < ${times}; i++) await rows(sql\`insert into effects (snippet, n) values (\${'${id}'}, \${i})\`);
    await rows(sql\`insert into prepared (snippet, statements)
      select \${'${id}'}, count(*)::int from pg_prepared_statements where statement like 'insert into effects%'\`);
  },
});
`;
}

/**
 * A snippet that gives the repo lock away: it releases its session's hold and has another
 * connection wait for the lock, which that connection gets when this transaction commits.
 */
const lockGivingSnippet = `import { defineSnippet } from '@snippets/runner';
import postgres from 'postgres';

export default defineSnippet({
  description: 'hand the repo lock to another session',
  touches: ['effects'],
  async up({ rows, sql }) {
    const [lock] = await rows(sql\`select classid::bigint as ns, objid::bigint as key from pg_locks
      where locktype = 'advisory' and pid = pg_backend_pid() and objsubid = 2\`);
    await rows(sql\`select pg_advisory_unlock_all()\`);
    const other = postgres(process.env.DATABASE_URL, { max: 1, onnotice: () => {} });
    other\`select pg_advisory_lock(\${Number(lock.ns) | 0}, \${Number(lock.key) | 0})\`.then(() => setTimeout(() => other.end(), 3000));
    for (;;) {
      const [waiting] = await rows(sql\`select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted\`);
      if (waiting.n) break;
    }
    await rows(sql\`insert into effects (snippet, n) values ('0001_give', 1)\`);
  },
});
`;

/** How the runner uses its PostgreSQL connection (PGlite is in-process: no round trips to save). */
describe("the run's connection to PostgreSQL", () => {
  let database: TestDatabase;
  let repo: FixtureRepo;

  beforeEach(async () => {
    database = await createTestDatabase('postgres');
    await database.query('create table effects (snippet text not null, n int not null)');
    await database.query('create table prepared (snippet text not null, statements int not null)');
  });
  afterEach(async () => {
    await repo.dispose();
    await database.dispose();
  });

  it("prepares a snippet's statement once it runs a second time, and it keeps working, values and all", async () => {
    repo = await createFixtureRepo({ '0001_once.ts': loopingSnippet('0001_once', 1), '0002_loop.ts': loopingSnippet('0002_loop', 5) });
    await runCli(['manifest'], { cwd: repo.dir });
    const result = await runCli(['run', '--expect', '0001_once,0002_loop'], { cwd: repo.dir, env: { DATABASE_URL: database.url } });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    // Run once, a statement is sent unprepared; run again (the loop), it is prepared once.
    expect(await database.query('select snippet, statements from prepared order by snippet')).toEqual([
      { snippet: '0001_once', statements: 0 },
      { snippet: '0002_loop', statements: 1 },
    ]);
    expect(await database.query('select snippet, n from effects order by snippet, n')).toEqual([
      { snippet: '0001_once', n: 0 },
      ...[0, 1, 2, 3, 4].map((n) => ({ snippet: '0002_loop', n })),
    ]);
  });

  it('refuses the next snippet when another session took the repo lock the connection lost, leaving it pending', async () => {
    // The other session is the snippet's own connection, which the config must allow.
    const server = new URL(database.url);
    const allow = defaultConfig(`, outbound: { allow: ['${server.hostname}:${server.port || 5432}'] }`);
    repo = await createFixtureRepo({ '0001_give.ts': lockGivingSnippet, '0002_after.ts': loopingSnippet('0002_after', 1) }, allow);
    await runCli(['manifest'], { cwd: repo.dir });
    const result = await runCli(['run', '--expect', '0001_give,0002_after'], { cwd: repo.dir, env: { DATABASE_URL: database.url } });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain("another session holds the repo lock of 'fixture', which this run's connection lost (was it reset?); run again");
    expect(await database.query('select snippet from effects')).toEqual([{ snippet: '0001_give' }]);
    expect(await database.query('select id from snippets.ledger')).toEqual([{ id: '0001_give' }]);
    expect(await database.query("select snippet_id, kind from snippets.events where snippet_id = '0002_after' order by seq")).toEqual([
      { snippet_id: '0002_after', kind: 'started' },
      { snippet_id: '0002_after', kind: 'refused' },
    ]);
  });
});
