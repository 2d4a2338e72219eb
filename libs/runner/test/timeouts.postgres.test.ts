import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { createTestDatabase, type TestDatabase } from './support/databases.ts';
import { createFixtureRepo, defaultConfig, effectSnippet, type FixtureRepo } from './support/fixture-repo.ts';

/** PGlite runs queries on one thread with no timer interrupt, so it does not enforce statement_timeout. */
describe('timeouts on PostgreSQL', () => {
  let database: TestDatabase;
  let repo: FixtureRepo;

  beforeEach(async () => {
    database = await createTestDatabase('postgres');
    await database.query('create table effects (snippet text not null)');
    await database.query('create table accounts (id int primary key, balance int)');
    await database.query('insert into accounts values (1, 100)');
  });
  afterEach(async () => {
    await repo.dispose();
    await database.dispose();
  });

  it('fails a snippet that runs past the statement timeout and rolls it back', async () => {
    repo = await createFixtureRepo(
      { '0001_slow.ts': effectSnippet('0001_slow', { before: 'await rows(sql`select pg_sleep(3)`);' }) },
      defaultConfig().replace("statement: '1m'", "statement: '1s'"),
    );
    await runCli(['manifest'], { cwd: repo.dir });
    const result = await runCli(['run'], { cwd: repo.dir, env: { DATABASE_URL: database.url } });
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('✗ 0001_slow: up failed: canceling statement due to statement timeout; the transaction was rolled back');
    expect(await database.query('select * from effects')).toEqual([]);
    expect(await database.query('select * from snippets.ledger')).toEqual([]);
  });

  it('fails a snippet that waits past the lock timeout for a row the service holds', async () => {
    repo = await createFixtureRepo(
      {
        '0001_locked.ts': effectSnippet('0001_locked', {
          touches: ['effects', 'accounts'],
          before: 'await rows(sql`update accounts set balance = 0 where id = 1`);',
        }),
      },
      defaultConfig().replace("lock: '5s'", "lock: '500ms'"),
    );
    await runCli(['manifest'], { cwd: repo.dir });
    // The "service" holds the row in an open transaction while the snippet runs.
    const holder = await import('postgres').then(({ default: postgres }) => postgres(database.url, { max: 1 }));
    try {
      const reserved = await holder.reserve();
      await reserved`begin`;
      await reserved`select * from accounts where id = 1 for update`;
      const result = await runCli(['run'], { cwd: repo.dir, env: { DATABASE_URL: database.url } });
      await reserved`rollback`;
      reserved.release();
      expect(result.code).toBe(1);
      expect(result.stdout).toContain('✗ 0001_locked: up failed: canceling statement due to lock timeout');
      expect(await database.query('select balance from accounts')).toEqual([{ balance: 100 }]);
    } finally {
      await holder.end();
    }
  });
});
