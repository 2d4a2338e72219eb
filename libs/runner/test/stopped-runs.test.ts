import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, runCli, writeManifest } from './support/cli.ts';
import { createTestDatabase, type Driver, type TestDatabase } from './support/databases.ts';
import { createFixtureRepo, effectSnippet, type FixtureRepo } from './support/fixture-repo.ts';

interface RunRecordJson {
  outcome: string;
  run: { applied: { id: string }[]; notRun: string[]; stopped: { reason: string; id?: string; check?: string } | null; alreadyApplied: { id: string }[] } | null;
}

async function readReports(repo: FixtureRepo): Promise<{ record: RunRecordJson; summary: string; junit: string }> {
  const read = (name: string) => readFile(path.join(repo.dir, 'reports', name), 'utf8');
  return { record: JSON.parse(await read('report.json')) as RunRecordJson, summary: await read('summary.md'), junit: await read('junit.xml') };
}

const chain = (ids: string[], options: Record<string, Parameters<typeof effectSnippet>[1]> = {}) =>
  Object.fromEntries(ids.map((id, i) => [`${id}.ts`, effectSnippet(id, { dependsOn: i ? [ids[i - 1]!] : undefined, ...options[id] })]));

describe.each<Driver>(['postgres', 'pglite'])('a run stopped by a refusal on %s', (driver) => {
  let database: TestDatabase;
  let repo: FixtureRepo;
  afterEach(async () => {
    await repo.dispose();
    await database.dispose();
  });

  it('reports, on the console and in report.json, junit.xml and summary.md, the snippets that committed before it', async () => {
    database = await createTestDatabase(driver);
    await database.query('create table effects (snippet text)');
    const ids = ['0001_first', '0002_second', '0003_alters', '0004_after'];
    repo = await createFixtureRepo(chain(ids, { '0003_alters': { before: 'await rows(sql`alter table effects add column note text`);' } }));
    const cli = (args: string[]) => runCli(args, { cwd: repo.dir, env: { DATABASE_URL: database.url } });
    await writeManifest(repo.dir);

    const result = await cli(['run', '--expect', ids.join(','), '--report-dir', 'reports']);
    expect(result.code).toBe(3);
    expect(result.stdout).toMatch(/✓ 0001_first {2}effects \+1 {2}\d+ms\n✓ 0002_second {2}effects \+1 {2}\d+ms\n/);
    expect(result.stdout).toContain('✗ 0003_alters: refused, rolled back\nnot run: 0004_after\n');
    expect(result.stderr).toContain('0003_alters');
    expect(await database.query('select snippet from effects order by snippet')).toEqual([{ snippet: '0001_first' }, { snippet: '0002_second' }]);

    const { record, summary, junit } = await readReports(repo);
    expect(record.outcome).toBe('refused');
    expect(record.run!.applied.map((a) => a.id)).toEqual(['0001_first', '0002_second']);
    expect(record.run!.stopped).toMatchObject({ reason: 'refused', id: '0003_alters', check: 'schema-changed' });
    expect(record.run!.notRun).toEqual(['0004_after']);
    expect(summary).toMatch(/\| 0001_first \| applied \| \d+ ms \| public\.effects \+1 ~0 -0 \|/);
    expect(summary).toContain('| 0003_alters | refused, rolled back | | |');
    expect(summary).toContain('| 0004_after | not run | | |');
    expect(summary).toContain('The 2 applied snippet(s) committed before the run stopped.');
    expect(junit).toMatch(/<testcase classname="snippets.fixture" name="0002_second" time="[\d.]+">/);
    expect(junit).toMatch(/<testcase classname="snippets.fixture" name="0003_alters">\s*<failure [^>]*type="refused"/);
    expect(junit).toMatch(/<testcase classname="snippets.fixture" name="0004_after">\s*<skipped/);
  });
});

describe('a run stopped by a signal on postgres', () => {
  let database: TestDatabase;
  let repo: FixtureRepo;
  afterEach(async () => {
    await repo.dispose();
    await database.dispose();
  });

  /** Starts `snippets run` with 0002 sleeping 2 s, and sends `signals` once 0002 has begun. */
  async function interruptedRun(signals: NodeJS.Signals[]) {
    database = await createTestDatabase('postgres');
    await database.query('create table effects (snippet text)');
    const ids = ['0001_first', '0002_slow', '0003_third'];
    repo = await createFixtureRepo(chain(ids, { '0002_slow': { before: 'await rows(sql`select pg_sleep(2)`);' } }));
    await writeManifest(repo.dir);
    const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1', DATABASE_URL: database.url };
    delete env.FORCE_COLOR;
    const child = spawn(process.execPath, [CLI, 'run', '--expect', ids.join(','), '--report-dir', 'reports'], { cwd: repo.dir, env });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    // 0002 is under way once its backend sleeps.
    for (let i = 0; i < 100; i++) {
      const [sleeping] = await database.query<{ n: number }>("select count(*)::int as n from pg_stat_activity where query like '%pg_sleep(2)%' and pid <> pg_backend_pid()");
      if (sleeping!.n) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    for (const signal of signals) {
      child.kill(signal);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return { ...(await exited), stdout: () => stdout };
  }

  it('the first SIGTERM lets the snippet under way commit and stops before the next; the reports list both applied', async () => {
    const { code, stdout } = await interruptedRun(['SIGTERM']);
    expect(code).toBe(1);
    expect(await database.query('select snippet from effects order by snippet')).toEqual([{ snippet: '0001_first' }, { snippet: '0002_slow' }]);
    expect(stdout()).toContain('stopping after the snippet under way');
    expect(stdout()).toMatch(/✓ 0001_first .*\n✓ 0002_slow .*\n/);
    expect(stdout()).toContain('not run: 0003_third');
    const { record, summary } = await readReports(repo);
    expect(record.outcome).toBe('interrupted');
    expect(record.run!.applied.map((a) => a.id)).toEqual(['0001_first', '0002_slow']);
    expect(record.run!.stopped).toEqual({ reason: 'interrupted', message: 'interrupted before 0003_third: 2 of 3 pending snippet(s) were applied; run again to apply the rest' });
    expect(record.run!.notRun).toEqual(['0003_third']);
    expect(summary).toContain('| 0003_third | not run | | |');
    // The ledger agrees with the report.
    const status = JSON.parse((await runCli(['status', '--json'], { cwd: repo.dir, env: { DATABASE_URL: database.url } })).stdout) as { snippets: { id: string; state: string }[] };
    expect(status.snippets.map((s) => `${s.id}:${s.state}`)).toEqual(['0001_first:applied', '0002_slow:applied', '0003_third:pending']);
  });

  it("after a kill -9, the pipeline's next run reports what the killed run had committed, and status agrees", async () => {
    const { signal } = await interruptedRun(['SIGKILL']);
    expect(signal).toBe('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 1500)); // the server ends the dead client's backend
    const cli = (args: string[]) => runCli(args, { cwd: repo.dir, env: { DATABASE_URL: database.url } });
    const status = JSON.parse((await cli(['status', '--json'])).stdout) as { snippets: { id: string; state: string }[] };
    expect(status.snippets.map((s) => `${s.id}:${s.state}`)).toEqual(['0001_first:applied', '0002_slow:pending', '0003_third:pending']);

    const retry = await cli(['run', '--expect', '0001_first,0002_slow,0003_third', '--report-dir', 'reports']);
    expect(retry.code).toBe(0);
    expect(retry.stdout).toMatch(/already applied before this run: 0001_first \(\d{4}-\d\d-\d\dT[\d:.]+Z\)\n/);
    const { record, summary } = await readReports(repo);
    expect(record.run!.applied.map((a) => a.id)).toEqual(['0002_slow', '0003_third']);
    expect(record.run!.alreadyApplied.map((a) => a.id)).toEqual(['0001_first']);
    expect(summary).toMatch(/\| 0001_first \| applied before this run \(\S+\) \| \| \|/);
    expect(await database.query('select snippet from effects order by snippet')).toEqual([{ snippet: '0001_first' }, { snippet: '0002_slow' }, { snippet: '0003_third' }]);
  });

  it('a second SIGINT stops at once: the snippet under way rolls back, the process dies of the signal', async () => {
    const { signal, stdout } = await interruptedRun(['SIGINT', 'SIGINT']);
    expect(signal).toBe('SIGINT');
    expect(stdout()).toContain('→ 0002_slow');
    // The server ends the dead client's backend; its transaction never commits.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(await database.query('select snippet from effects order by snippet')).toEqual([{ snippet: '0001_first' }]);
  });
});

describe('a batched snippet stopped by SIGTERM on postgres', () => {
  it('stops after the batch under way, reports it interrupted with its batches kept, and the next run resumes', async () => {
    const database = await createTestDatabase('postgres');
    const rows = 5000;
    await database.query(`create table counters (id serial primary key, hits int not null default 0); insert into counters (hits) select 0 from generate_series(1, ${rows})`);
    const count = `import { defineSnippet } from '@snippets/runner';
export default defineSnippet({
  description: 'count every counter once',
  dependsOn: ['0001_first'],
  transaction: 'batched',
  touches: ['counters'],
  async up({ batch, sql }) {
    await batch({
      table: 'counters', where: sql\`hits = 0\`, size: 100, maxSize: 100, pauseMs: 100,
      async process({ rows, sql, inBatch }) { await rows(sql\`update counters set hits = hits + 1 where \${inBatch(sql\`id\`)}\`); },
    });
  },
});
`;
    const repo = await createFixtureRepo({ '0001_first.ts': effectSnippet('0001_first'), '0002_count.ts': count });
    try {
      await database.query('create table effects (snippet text)');
      await writeManifest(repo.dir);
      const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1', DATABASE_URL: database.url };
      delete env.FORCE_COLOR;
      const child = spawn(process.execPath, [CLI, 'run', '--expect', '0001_first,0002_count', '--report-dir', 'reports'], { cwd: repo.dir, env });
      let stdout = '';
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      await new Promise<void>((resolve) =>
        child.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          if (stdout.includes('counters:')) resolve();
        }),
      );
      child.kill('SIGTERM');
      expect(await exited).toBe(1);
      expect(stdout).toContain('⏸ 0002_count: interrupted; its finished batches are kept, run again to resume');
      const { record, summary } = await readReports(repo);
      expect(record.outcome).toBe('interrupted');
      expect(record.run!.applied.map((a) => a.id)).toEqual(['0001_first']);
      expect(record.run!.stopped).toMatchObject({ reason: 'interrupted', id: '0002_count' });
      expect(summary).toContain('| 0002_count | interrupted: finished batches kept, run again to resume | | |');
      const [done] = await database.query<{ once: number; twice: number }>('select count(*) filter (where hits = 1)::int as once, count(*) filter (where hits > 1)::int as twice from counters');
      expect(done!.twice).toBe(0);
      expect(done!.once).toBeGreaterThan(0);
      expect(done!.once).toBeLessThan(rows);

      const resumed = await runCli(['run', '--expect', '0001_first,0002_count'], { cwd: repo.dir, env: { DATABASE_URL: database.url } });
      expect(resumed.code).toBe(0);
      expect(await database.query('select hits, count(*)::int as n from counters group by 1')).toEqual([{ hits: 1, n: rows }]);
    } finally {
      await repo.dispose();
      await database.dispose();
    }
  });
});

describe('a batched snippet that fails on postgres', () => {
  it('is reported with its finished batches kept, not as rolled back', async () => {
    const database = await createTestDatabase('postgres');
    await database.query('create table counters (id serial primary key, hits int not null default 0); insert into counters (hits) select 0 from generate_series(1, 300)');
    const count = `import { defineSnippet } from '@snippets/runner';
export default defineSnippet({
  description: 'count, then fail on the second batch',
  transaction: 'batched',
  touches: ['counters'],
  async up({ batch, sql }) {
    await batch({
      table: 'counters', size: 100, maxSize: 100,
      async process({ rows, sql, from, inBatch }) {
        if (from !== null) throw new Error('the service call failed');
        await rows(sql\`update counters set hits = hits + 1 where \${inBatch(sql\`id\`)}\`);
      },
    });
  },
});
`;
    const repo = await createFixtureRepo({ '0001_count.ts': count });
    try {
      await writeManifest(repo.dir);
      const result = await runCli(['run', '--report-dir', 'reports'], { cwd: repo.dir, env: { DATABASE_URL: database.url } });
      expect(result.code).toBe(1);
      const { summary } = await readReports(repo);
      expect(summary).toContain('| 0001_count | failed (up) | | finished batches kept |');
      expect(await database.query('select hits, count(*)::int as n from counters group by 1 order by 1')).toEqual([{ hits: 0, n: 200 }, { hits: 1, n: 100 }]);
    } finally {
      await repo.dispose();
      await database.dispose();
    }
  });
});
