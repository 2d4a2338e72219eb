import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLI, runCli } from './support/cli.ts';
import { createTestDatabase, type TestDatabase } from './support/databases.ts';
import { createFixtureRepo, effectSnippet, type FixtureRepo } from './support/fixture-repo.ts';
import { until } from './support/until.ts';

describe('the release lock on postgres', () => {
  let database: TestDatabase;
  let repo: FixtureRepo;
  const cli = (args: string[]) => runCli(args, { cwd: repo.dir, env: { DATABASE_URL: database.url } });

  beforeEach(async () => {
    database = await createTestDatabase('postgres');
  });
  afterEach(async () => {
    await repo.dispose();
    await database.dispose();
  });

  it('two racing acquirers: one wins, the other fails after --wait, then gets it once released', async () => {
    repo = await createFixtureRepo({});
    const [a, b] = await Promise.all([
      cli(['lock', 'acquire', '--name', 'releases', '--holder', 'deploy-a', '--wait', '1s']),
      cli(['lock', 'acquire', '--name', 'releases', '--holder', 'deploy-b', '--wait', '1s']),
    ]);
    expect([a.code, b.code].sort()).toEqual([0, 3]);
    const [winner, loser] = a.code === 0 ? ['deploy-a', b] : ['deploy-b', a];
    expect(loser.stderr).toMatch(new RegExp(`^snippets: release lock 'releases' is held by ${winner} since \\S+ \\(until \\S+ unless renewed\\); wait longer with --wait, or have its holder release it\\n$`));
    const status = JSON.parse((await cli(['lock', 'status', '--name', 'releases', '--json'])).stdout);
    expect(status).toMatchObject({ name: 'releases', held: true, lease: { holder: winner } });

    // The other one waits while the winner works, and gets the lease as soon as it is released.
    const other = winner === 'deploy-a' ? 'deploy-b' : 'deploy-a';
    const waiting = cli(['lock', 'acquire', '--name', 'releases', '--holder', other, '--wait', '20s']);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await cli(['lock', 'release', '--name', 'releases', '--holder', other])).code).toBe(3); // not theirs
    expect((await cli(['lock', 'release', '--name', 'releases', '--holder', winner])).code).toBe(0);
    expect((await waiting).code).toBe(0);
    expect(JSON.parse((await cli(['lock', 'status', '--name', 'releases', '--json'])).stdout).lease.holder).toBe(other);
    const events = await database.query<{ kind: string; holder: string }>("select kind, detail->>'holder' as holder from snippets.events order by seq");
    expect(events).toEqual([
      { kind: 'lock-acquired', holder: winner },
      { kind: 'lock-released', holder: winner },
      { kind: 'lock-acquired', holder: other },
    ]);
  });

  it('a run holding the lease keeps renewing it; killed with kill -9, it loses the lease after its TTL', async () => {
    // A snippet that works for a while: the run outlives the lease's 3 s TTL only by renewing it.
    repo = await createFixtureRepo({ '0001_slow.ts': effectSnippet('0001_slow', { before: 'await rows(sql`select pg_sleep(30)`);' }) });
    await database.query('create table effects (snippet text)');
    await cli(['manifest']);
    expect((await cli(['lock', 'acquire', '--name', 'releases', '--holder', 'pipeline-1', '--ttl', '3s'])).code).toBe(0);
    // The pipeline's acquire step is fresh when its run starts: until the run is at work,
    // however slow its start-up on a loaded machine, the lease is kept as its holder would.
    const keepFresh = setInterval(
      () => void database.query("update snippets.locks set expires_at = now() + interval '3 seconds' where name = 'releases' and holder = 'pipeline-1'").catch(() => {}),
      500,
    );
    const child = spawn(process.execPath, [CLI, 'run', '--lock', 'releases', '--holder', 'pipeline-1'], {
      cwd: repo.dir,
      env: { ...process.env, DATABASE_URL: database.url },
      stdio: 'ignore',
    });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    try {
      const working = async () => ((await database.query("select 1 from pg_stat_activity where query like '%pg_sleep(30)%' and pid <> pg_backend_pid()")).length ? true : undefined);
      await until(working, 60_000, 'the run to be inside its snippet');
    } finally {
      clearInterval(keepFresh);
    }
    // Past the TTL of the test's last renewal: only the run's own renewals can have kept the lease.
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    const taken = await cli(['lock', 'acquire', '--name', 'releases', '--holder', 'release-2']);
    expect(taken.code).toBe(3);
    expect(taken.stderr).toContain('held by pipeline-1');

    child.kill('SIGKILL');
    await exited;
    const started = Date.now();
    const after = await cli(['lock', 'acquire', '--name', 'releases', '--holder', 'release-2', '--wait', '10s']);
    expect(after.code).toBe(0);
    expect(Date.now() - started).toBeLessThan(8_000); // within the TTL of the last renewal, plus start-up
    expect(await database.query('select * from effects')).toEqual([]);
  });

  it('run --lock refuses when the lease is not held by its holder, before touching anything', async () => {
    repo = await createFixtureRepo({ '0001_fast.ts': effectSnippet('0001_fast') });
    await database.query('create table effects (snippet text)');
    await cli(['manifest']);
    const free = await cli(['run', '--lock', 'releases', '--holder', 'pipeline-1', '--report-dir', 'reports']);
    expect(free.code).toBe(3);
    expect(free.stderr).toBe("snippets: --lock releases: the release lock is not held, not by pipeline-1; take it first with `snippets lock acquire --name releases`\n");
    // The refusal is in the reports the pipeline publishes and notifies from.
    const report = JSON.parse(await readFile(path.join(repo.dir, 'reports/report.json'), 'utf8'));
    expect(report).toMatchObject({
      repo: 'fixture',
      outcome: 'refused',
      message: expect.stringContaining('the release lock is not held'),
      run: { applied: [], notRun: [], stopped: { reason: 'refused', check: 'release-lock' } },
    });
    expect(await readFile(path.join(repo.dir, 'reports/junit.xml'), 'utf8')).toMatch(/<testcase classname="snippets\.fixture" name="run">\s*<failure message="--lock releases: the release lock is not held/);
    await cli(['lock', 'acquire', '--name', 'releases', '--holder', 'service-release']);
    const taken = await cli(['run', '--lock', 'releases', '--holder', 'pipeline-1']);
    expect(taken.code).toBe(3);
    expect(taken.stderr).toContain('the release lock is held by service-release, not by pipeline-1');
    expect(await database.query('select * from effects')).toEqual([]);
  });

  it('run --lock stops before the next snippet once the lease is lost, with the next one begun ahead and rolled back', async () => {
    // 0002 hands the lease to someone else, as an expired lease taken by another release would be.
    const steal = "await rows(sql`update snippets.locks set holder = 'service-release' where name = 'releases'`);";
    repo = await createFixtureRepo({
      '0001_first.ts': effectSnippet('0001_first'),
      '0002_second.ts': effectSnippet('0002_second', { dependsOn: ['0001_first'], before: steal }),
      '0003_third.ts': effectSnippet('0003_third', { dependsOn: ['0002_second'] }),
    });
    await database.query('create table effects (snippet text)');
    await cli(['manifest']);
    expect((await cli(['lock', 'acquire', '--name', 'releases', '--holder', 'pipeline-1'])).code).toBe(0);
    const run = await cli(['run', '--lock', 'releases', '--holder', 'pipeline-1', '--expect', '0001_first,0002_second,0003_third', '--report-dir', 'reports']);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain("the release lock 'releases' was lost (its lease expired or was taken); stopped before 0003_third");
    // What committed before the lease was lost is on the console and in the report.
    expect(run.stdout).toMatch(/✓ 0001_first .*\n✓ 0002_second .*\n✗ 0003_third: refused, rolled back\n/);
    const report = JSON.parse(await readFile(path.join(repo.dir, 'reports/report.json'), 'utf8'));
    expect(report.run.applied.map((a: { id: string }) => a.id)).toEqual(['0001_first', '0002_second']);
    expect(report.run.stopped).toMatchObject({ reason: 'refused', id: '0003_third', check: 'release-lock' });
    expect(await database.query('select snippet from effects order by 1')).toEqual([{ snippet: '0001_first' }, { snippet: '0002_second' }]);
    const ledger = await database.query<{ id: string }>('select id from snippets.ledger order by number');
    expect(ledger.map((row) => row.id)).toEqual(['0001_first', '0002_second']);
    const lost = await database.query<{ snippet_id: string }>("select snippet_id from snippets.events where kind = 'lock-lost'");
    expect(lost).toEqual([{ snippet_id: '0003_third' }]);
    expect(await database.query("select state from pg_stat_activity where datname = current_database() and state like 'idle in transaction%'")).toEqual([]);
  });

  it('rejects a bad lock name or duration with one line naming the flag', async () => {
    repo = await createFixtureRepo({});
    const name = await cli(['lock', 'acquire', '--name', 'Releases!']);
    expect([name.code, name.stderr]).toEqual([2, "snippets: --name 'Releases!' is not a lock name; use a lower-case id such as releases\n"]);
    const ttl = await cli(['lock', 'acquire', '--name', 'releases', '--ttl', 'a while']);
    expect([ttl.code, ttl.stderr]).toEqual([2, "snippets: --ttl 'a while' is not a duration; use e.g. 30s, 10m or 1h\n"]);
  });
});
