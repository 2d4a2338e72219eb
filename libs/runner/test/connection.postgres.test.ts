import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { createTestDatabase, type TestDatabase } from './support/databases.ts';
import { createFixtureRepo, type FixtureRepo } from './support/fixture-repo.ts';

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
});
