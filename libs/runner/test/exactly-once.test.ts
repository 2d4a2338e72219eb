import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLI, runCli } from './support/cli.ts';
import { createTestDatabase, type Driver, type TestDatabase } from './support/databases.ts';
import { createFixtureRepo, effectSnippet, type FixtureRepo } from './support/fixture-repo.ts';
import { until } from './support/until.ts';

/**
 * Separate processes racing on one database. On PostgreSQL they serialise on the repo's
 * advisory lock; on PGlite, a one-process database, on the data directory's lock file.
 */
describe.each<Driver>(['postgres', 'pglite'])('exactly once on %s', (driver) => {
  let database: TestDatabase;
  let repo: FixtureRepo;
  const ids = ['0001_first', '0002_second', '0003_third'];

  beforeEach(async () => {
    database = await createTestDatabase(driver);
    await database.query('create table effects (snippet text not null, at timestamptz not null default now())');
    repo = await createFixtureRepo({
      // A slow first snippet widens the window in which the runners overlap.
      '0001_first.ts': effectSnippet('0001_first', {
        before: `
          if (process.env.SNIPPET_SLEEP) await rows(sql\`select pg_sleep(\${Number(process.env.SNIPPET_SLEEP)})\`);
          if (process.env.SNIPPET_MARKER) {
            (await import('node:fs')).writeFileSync(process.env.SNIPPET_MARKER, 'inside');
            await new Promise((resolve) => setTimeout(resolve, 60_000));
          }`,
      }),
      '0002_second.ts': effectSnippet('0002_second', { dependsOn: ['0001_first'] }),
      '0003_third.ts': effectSnippet('0003_third', { dependsOn: ['0002_second'] }),
    });
    expect((await runCli(['manifest'], { cwd: repo.dir })).code).toBe(0);
  });

  afterEach(async () => {
    await repo.dispose();
    await database.dispose();
  });

  it('8 runners started at once apply each snippet exactly once', async () => {
    const env = { DATABASE_URL: database.url, SNIPPET_SLEEP: '0.5' };
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => runCli(['run', '--expect', ...ids, '--json'], { cwd: repo.dir, env: { ...env, SNIPPETS_EXECUTED_BY: `runner-${i}` } })),
    );
    expect(results.map((r) => r.code)).toEqual(Array(8).fill(0));
    const appliedPerRunner = results.map((r) => JSON.parse(r.stdout).applied.length as number);
    // One runner did all the work; the other seven found nothing pending.
    expect(appliedPerRunner.sort()).toEqual([0, 0, 0, 0, 0, 0, 0, 3]);

    const effects = await database.query<{ snippet: string; n: number }>('select snippet, count(*)::int as n from effects group by 1 order by 1');
    expect(effects).toEqual(ids.map((snippet) => ({ snippet, n: 1 })));
    const ledger = await database.query<{ id: string }>('select id from snippets.ledger order by number');
    expect(ledger.map((r) => r.id)).toEqual(ids);
    const applied = await database.query<{ n: number }>(`select count(*)::int as n from snippets.events where kind = 'applied'`);
    expect(applied[0]!.n).toBe(3);
  });

  it('kill -9 during an atomic snippet leaves no data and no ledger row; the next run applies it once', async () => {
    // On PostgreSQL the runner dies inside a statement (pg_sleep), which the server only
    // notices through client_connection_check_interval; PGlite dies between statements.
    const marker = path.join(repo.dir, 'inside-0001');
    const child = spawn(process.execPath, [CLI, 'run', '--expect', ...ids], {
      cwd: repo.dir,
      env: { ...process.env, DATABASE_URL: database.url, ...(driver === 'postgres' ? { SNIPPET_SLEEP: '60' } : { SNIPPET_MARKER: marker }) },
      stdio: 'ignore',
    });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    // Wait until the runner is inside 0001's transaction, after its insert.
    await until(
      async () => {
        if (driver === 'pglite') return existsSync(marker) ? true : undefined;
        const rows = await database.query(
          // This test's database only: another test file's runner may be sleeping in its own.
          `select pid from pg_stat_activity where datname = current_database() and application_name = 'snippets-runner' and query like '%pg_sleep%' and state = 'active'`,
        );
        return rows.length ? true : undefined;
      },
      60_000,
      'the runner to be inside the snippet',
    );
    child.kill('SIGKILL');
    await exited;

    if (driver === 'postgres') {
      await until(
        async () => {
          const rows = await database.query(`select 1 from pg_stat_activity where datname = current_database() and application_name = 'snippets-runner'`);
          return rows.length === 0 ? true : undefined;
        },
        15_000,
        'the killed runner backend to go away',
      );
      expect(await database.query('select * from effects')).toEqual([]);
      expect(await database.query('select * from snippets.ledger')).toEqual([]);
    }
    const rerun = await runCli(['run', '--expect', ...ids], { cwd: repo.dir, env: { DATABASE_URL: database.url } });
    expect(rerun.code).toBe(0);
    const effects = await database.query<{ snippet: string; n: number }>('select snippet, count(*)::int as n from effects group by 1 order by 1');
    expect(effects).toEqual(ids.map((snippet) => ({ snippet, n: 1 })));
    const events = await database.query<{ kind: string; snippet_id: string }>('select kind, snippet_id from snippets.events order by seq');
    // An atomic snippet's 'started' commits with its ledger row: the killed attempt left no event.
    expect(events.map((e) => `${e.kind} ${e.snippet_id}`)).toEqual([
      'started 0001_first',
      'applied 0001_first',
      'started 0002_second',
      'applied 0002_second',
      'started 0003_third',
      'applied 0003_third',
    ]);
  });
});
