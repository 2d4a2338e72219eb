import { spawn } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { childEnv, CLI, runCli, writeManifest } from './support/cli.ts';
import { createTestDatabase, type Driver, type TestDatabase } from './support/databases.ts';
import postgres from 'postgres';
import { createFixtureRepo, defaultConfig, type FixtureRepo } from './support/fixture-repo.ts';

const ROWS = 20_000;

/** An increment-by-one backfill: any row processed twice, or never, shows in `hits`. */
function backfill(options: { size?: number; maxSize?: number; touches?: string[]; extra?: string; spec?: string; set?: string } = {}): string {
  return `import { defineSnippet } from '@snippets/runner';

export default defineSnippet({
  description: 'count every counter once',
  transaction: 'batched',
  touches: ${JSON.stringify(options.touches ?? ['counters'])},
  async up({ batch, sql }) {
    await batch({
      table: 'counters',
      where: sql\`hits = 0\`,
      size: ${options.size ?? 1000},
      maxSize: ${options.maxSize ?? 100_000},
      pauseMs: Number(process.env.BATCH_PAUSE_MS ?? 0),
      ${options.spec ?? ''}
      async process({ rows, sql, from, to }) {
        await rows(sql\`update counters set hits = hits + 1${options.set ?? ''} where id > \${from ?? 0} and id <= \${to}\`);
        ${options.extra ?? ''}
      },
    });
  },
  async verify({ rows, sql }) {
    const [r] = await rows(sql\`select count(*)::int as n from counters where hits <> 1\`);
    return { ok: r.n === 0, message: r.n + ' counters not counted exactly once' };
  },
});
`;
}

describe.each<Driver>(['postgres', 'pglite'])('batched snippets on %s', (driver) => {
  let database: TestDatabase;
  let repo: FixtureRepo;
  const cli = (args: string[]) => runCli(args, { cwd: repo.dir, env: { DATABASE_URL: database.url } });
  const hits = async () =>
    (await database.query<{ hits: number; n: number }>('select hits, count(*)::int as n from counters group by 1 order by 1')).map((r) => `${r.hits}:${r.n}`);

  beforeEach(async () => {
    database = await createTestDatabase(driver);
    await database.query(`create table counters (id serial primary key, hits int not null default 0); insert into counters (hits) select 0 from generate_series(1, ${ROWS})`);
  });
  afterEach(async () => {
    await repo.dispose();
    await database.dispose();
  });

  it('visits every row once, in batches, and records the total rows changed', async () => {
    repo = await createFixtureRepo({ '0001_count.ts': backfill() });
    await writeManifest(repo.dir);
    const result = await cli(['run']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`\\[0001_count\\] counters: ${ROWS}/${ROWS} rows, \\d+ batches, \\d+ rows/s, ETA 0s`));
    expect(await hits()).toEqual([`1:${ROWS}`]);
    const [row] = await database.query<{ rows_changed: unknown }>('select rows_changed from snippets.ledger');
    expect(row!.rows_changed).toEqual({ 'public.counters': { inserted: 0, updated: ROWS, deleted: 0 } });
    expect(await database.query('select * from snippets.checkpoints')).toEqual([]);
  });

  it('pauses while the health check fails, then carries on', async () => {
    repo = await createFixtureRepo({
      '0001_count.ts': backfill({
        spec: `healthCheck: async () => {
          globalThis.checks = (globalThis.checks ?? 0) + 1;
          return globalThis.checks === 2 ? { ok: false, message: 'replica lag 12s' } : true;
        },`,
      }),
    });
    await writeManifest(repo.dir);
    const result = await cli(['run']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('[0001_count] health check failed: replica lag 12s; pausing 500 ms');
    expect(await hits()).toEqual([`1:${ROWS}`]);
  });

  it('fails a batch that changes an undeclared table, keeping the batches before it', async () => {
    await database.query('create table audit_log (at timestamptz default now())');
    repo = await createFixtureRepo({
      '0001_count.ts': backfill({ extra: "if (to > 5000) await rows(sql`insert into audit_log default values`);" }),
    });
    await writeManifest(repo.dir);
    const result = await cli(['run']);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('0001_count: changed public.audit_log, not declared in touches');
    // Every batch before the one that failed stays done, and the checkpoint says how far.
    const [{ done } = { done: 0 }] = await database.query<{ done: number }>('select sum(rows_done)::int as done from snippets.ranges');
    expect(done).toBeGreaterThan(0);
    expect(done).toBeLessThanOrEqual(5000);
    expect(await hits()).toEqual([`0:${ROWS - done}`, `1:${done}`]);
    expect(await database.query('select * from audit_log')).toEqual([]);
    expect(await database.query('select * from snippets.ledger')).toEqual([]);

    // The fixed file is another version: it may not continue the old version's batches.
    await repo.write('snippets/0001_count.ts', backfill());
    await writeManifest(repo.dir);
    const resumed = await cli(['run']);
    expect(resumed.code).toBe(3);
    expect(resumed.stderr).toContain('snippets/0001_count.ts: an interrupted run of another version of this file committed batches');
  });

  it('refuses a key that may be NULL before any batch: such rows would never be visited', async () => {
    await database.query('alter table counters add column code int unique');
    repo = await createFixtureRepo({ '0001_count.ts': backfill({ spec: "key: 'code'," }) });
    await writeManifest(repo.dir);
    const result = await cli(['run']);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(
      "0001_count: up failed: batch(): key 'code' of public.counters may be NULL, and rows with a NULL key would never be visited; use a unique NOT NULL integer, text or uuid column, such as the primary key",
    );
    expect(await hits()).toEqual([`0:${ROWS}`]);
  });

  it('refuses database work outside batch(), which would not be exactly once', async () => {
    repo = await createFixtureRepo({ '0001_count.ts': backfill().replace('async up({ batch, sql }) {', 'async up({ batch, sql, rows }) {\n    await rows(sql`update counters set hits = 99`);') });
    await writeManifest(repo.dir);
    const result = await cli(['run']);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("0001_count: up failed: in a batched snippet, use the db and rows given to batch()'s process(), not the context's");
    expect(await hits()).toEqual([`0:${ROWS}`]);
  });
});

describe.each<Driver>(['postgres', 'pglite'])('a batched snippet with a fixed cost per batch on %s', (driver) => {
  it('stops shrinking its batches when shrinking does not shorten them', async () => {
    const rows = 3000;
    const database = await createTestDatabase(driver);
    // Every batch calls a "service" that takes the target duration whatever the batch's size.
    const repo = await createFixtureRepo({
      '0001_count.ts': backfill({ size: 100, spec: 'targetMs: 20,', extra: 'await new Promise((resolve) => setTimeout(resolve, 20));' }),
    });
    try {
      await database.query(`create table counters (id serial primary key, hits int not null default 0); insert into counters (hits) select 0 from generate_series(1, ${rows})`);
      await writeManifest(repo.dir);
      const result = await runCli(['run'], { cwd: repo.dir, env: { DATABASE_URL: database.url } });
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const batches = Number([...result.stdout.matchAll(new RegExp(`counters: ${rows}/${rows} rows, (\\d+) batches`, 'g'))].at(-1)?.[1]);
      // Shrinking toward 10 rows a batch took 279 batches on PostgreSQL and 286 on PGlite; the
      // fixed cost calls for a few dozen (9 and 19 on a quiet machine, 76 on PGlite with the
      // whole suite running beside it): the bound sits between the two behaviours.
      expect(batches).toBeGreaterThan(0);
      expect(batches).toBeLessThan(rows / 20);
      const counts = await database.query<{ hits: number; n: number }>('select hits, count(*)::int as n from counters group by 1');
      expect(counts).toEqual([{ hits: 1, n: rows }]);
    } finally {
      await repo.dispose();
      await database.dispose();
    }
  });
});

describe.each<Driver>(['postgres', 'pglite'])('a batched snippet killed mid-run on %s', (driver) => {
  it('resumes after the last finished batch and processes every row exactly once', async () => {
    const database = await createTestDatabase(driver);
    const repo = await createFixtureRepo({ '0001_count.ts': backfill({ size: 200, maxSize: 200 }) });
    try {
      await database.query(`create table counters (id serial primary key, hits int not null default 0); insert into counters (hits) select 0 from generate_series(1, ${ROWS})`);
      await writeManifest(repo.dir);
      // 100 batches with a pause between them: the kill lands mid-run.
      const env = { ...process.env, DATABASE_URL: database.url, BATCH_PAUSE_MS: '100' };
      const child = spawn(process.execPath, [CLI, 'run'], { cwd: repo.dir, env, stdio: ['ignore', 'pipe', 'ignore'] });
      const exited = new Promise((resolve) => child.on('exit', resolve));
      // The first progress line comes after the first batch committed; kill at a random moment after it.
      await new Promise<void>((resolve) => child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('counters:') && resolve()));
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 1500));
      child.kill('SIGKILL');
      await exited;

      // Another process reads how far the interrupted run got.
      const status = JSON.parse((await runCli(['status', '--json'], { cwd: repo.dir, env: { DATABASE_URL: database.url } })).stdout);
      expect(status.snippets[0]).toMatchObject({ state: 'pending', progress: { rows: expect.any(Number), batches: expect.any(Number) } });
      expect(status.snippets[0].progress.rows).toBeGreaterThan(0);

      const rerun = await runCli(['run'], { cwd: repo.dir, env: { DATABASE_URL: database.url } });
      expect(rerun.code).toBe(0);
      expect(rerun.stdout).toMatch(/resuming after [1-9]\d* rows/);
      const counts = await database.query<{ hits: number; n: number }>('select hits, count(*)::int as n from counters group by 1 order by 1');
      expect(counts).toEqual([{ hits: 1, n: ROWS }]);
    } finally {
      await repo.dispose();
      await database.dispose();
    }
  });
});

describe('a batch blocked by a lock the service holds', () => {
  it('is retried with a smaller size once the lock is gone', async () => {
    const database = await createTestDatabase('postgres');
    const repo = await createFixtureRepo({ '0001_count.ts': backfill({ size: 1000, maxSize: 1000 }) }, defaultConfig().replace("lock: '5s'", "lock: '300ms'"));
    try {
      await database.query(`create table counters (id serial primary key, hits int not null default 0); insert into counters (hits) select 0 from generate_series(1, ${ROWS})`);
      await writeManifest(repo.dir);
      const holder = postgres(database.url, { max: 1 });
      const reserved = await holder.reserve();
      await reserved`begin`;
      await reserved`select * from counters where id = 5500 for update`;
      const child = spawn(process.execPath, [CLI, 'run'], { cwd: repo.dir, env: { ...process.env, DATABASE_URL: database.url }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      // Let go of the row once the runner has hit the lock and backed off.
      await new Promise<void>((resolve) =>
        child.stdout!.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          if (stdout.includes('retry 1')) resolve();
        }),
      );
      await reserved`rollback`;
      reserved.release();
      await holder.end();
      expect(await exited).toBe(0);
      expect(stdout).toMatch(/counters: batch hit canceling statement due to lock timeout; retry 1 with 500 rows in 250 ms/);
      const counts = await database.query<{ hits: number; n: number }>('select hits, count(*)::int as n from counters group by 1');
      expect(counts).toEqual([{ hits: 1, n: ROWS }]);
    } finally {
      await repo.dispose();
      await database.dispose();
    }
  });
});

describe('parallel workers on postgres', () => {
  let database: TestDatabase;
  let repo: FixtureRepo;
  // Each batch stamps the backend that did it, so a test can see the work was shared.
  const stamped = () => backfill({ size: 200, maxSize: 200, set: ', worker = pg_backend_pid()' });
  const counts = () => database.query<{ hits: number; n: number }>('select hits, count(*)::int as n from counters group by 1 order by 1');
  const workers = async () => (await database.query<{ n: number }>('select count(distinct worker)::int as n from counters'))[0]!.n;

  beforeEach(async () => {
    database = await createTestDatabase('postgres');
    await database.query(`create table counters (id serial primary key, hits int not null default 0, worker int); insert into counters (hits) select 0 from generate_series(1, ${ROWS})`);
  });
  afterEach(async () => {
    await repo.dispose();
    await database.dispose();
  });

  it('run --workers 4 shares the key ranges between four connections, every row once', async () => {
    repo = await createFixtureRepo({ '0001_count.ts': stamped() });
    await writeManifest(repo.dir);
    const result = await runCli(['run', '--workers', '4'], { cwd: repo.dir, env: { DATABASE_URL: database.url } });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(await counts()).toEqual([{ hits: 1, n: ROWS }]);
    expect(await workers()).toBe(4);
    const [row] = await database.query<{ rows_changed: unknown }>('select rows_changed from snippets.ledger');
    expect(row!.rows_changed).toEqual({ 'public.counters': { inserted: 0, updated: ROWS, deleted: 0 } });
    expect(await database.query('select * from snippets.ranges')).toEqual([]);
  });

  it('four runner processes share one backfill; killing one of them loses and repeats no row', async () => {
    repo = await createFixtureRepo({ '0001_count.ts': stamped() });
    await writeManifest(repo.dir);
    const env = childEnv({ NO_COLOR: '1', DATABASE_URL: database.url, BATCH_PAUSE_MS: '100' });
    const runners = Array.from({ length: 4 }, () => {
      const child = spawn(process.execPath, [CLI, 'run'], { cwd: repo.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      return { child, exited, output: () => output };
    });
    // Once three processes are helping the one holding the lock, kill one of the four at random.
    await expect.poll(() => runners.filter((r) => r.output().includes('helping the runner that holds the lock')).length, { timeout: 60_000, interval: 50 }).toBe(3);
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 800));
    const victim = runners[Math.floor(Math.random() * runners.length)]!;
    victim.child.kill('SIGKILL');
    const [{ open } = { open: 0 }] = await database.query<{ open: number }>('select count(*)::int as open from snippets.ranges where not done');
    expect(open, 'the kill landed before the walk was done').toBeGreaterThan(0);
    const codes = await Promise.all(runners.map((r) => r.exited));

    // The survivors finish the walk; if the killed one held the lock, one of them takes it over and records the snippet.
    expect(codes.filter((code, i) => runners[i] !== victim)).toEqual([0, 0, 0]);
    expect(await counts()).toEqual([{ hits: 1, n: ROWS }]);
    expect(await workers()).toBeGreaterThanOrEqual(3);
    const events = await database.query<{ kind: string; n: number }>("select kind, count(*)::int as n from snippets.events where kind in ('applied', 'helped') group by 1 order by 1");
    expect(events).toEqual([
      { kind: 'applied', n: 1 },
      { kind: 'helped', n: expect.any(Number) },
    ]);
    const [row] = await database.query<{ rows_changed: unknown }>('select rows_changed from snippets.ledger');
    expect(row!.rows_changed).toEqual({ 'public.counters': { inserted: 0, updated: ROWS, deleted: 0 } });
  });
});

describe('parallel workers on pglite', () => {
  it('refuses --workers above 1: PGlite is one connection', async () => {
    const database = await createTestDatabase('pglite');
    const repo = await createFixtureRepo({ '0001_count.ts': backfill() });
    try {
      await writeManifest(repo.dir);
      const result = await runCli(['run', '--workers', '2'], { cwd: repo.dir, env: { DATABASE_URL: database.url } });
      expect(result.code).toBe(2);
      expect(result.stderr.trim()).toMatch(/^snippets: --workers 2: pglite:\S+ is one connection; use --workers 1, or a PostgreSQL DATABASE_URL for parallel workers$/);
      const bad = await runCli(['run', '--workers', 'many'], { cwd: repo.dir, env: { DATABASE_URL: database.url } });
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain("option '--workers <n>' argument 'many' is invalid. give a whole number from 1 to 64.");
    } finally {
      await repo.dispose();
      await database.dispose();
    }
  });
});

describe('a batched run interrupted under ledger schema v2', () => {
  it('resumes from its checkpoint after the upgrade to key ranges', async () => {
    const database = await createTestDatabase('postgres');
    const repo = await createFixtureRepo({ '0001_count.ts': backfill() });
    try {
      await database.query(`create table counters (id serial primary key, hits int not null default 0); insert into counters (hits) select 0 from generate_series(1, ${ROWS})`);
      const cli = (args: string[]) => runCli(args, { cwd: repo.dir, env: { DATABASE_URL: database.url } });
      await writeManifest(repo.dir);
      const { checksum } = JSON.parse((await cli(['plan', '--json'])).stdout).pending[0];
      // What a v2 runner left when it was killed: the first 5,000 rows done, its checkpoint in one JSON cursor
      // (the tables and columns of later versions taken away again).
      await cli(['baseline', '--through', '0001_count']);
      await database.query(`delete from snippets.ledger; delete from snippets.events; drop table snippets.ranges;
        alter table snippets.checkpoints add column batches_done integer not null default 0, add column rows_done bigint not null default 0;
        alter table snippets.locks drop column ttl_ms, drop column heartbeat_at;
        alter table snippets.ledger drop column service_package, drop column service_version;
        alter table snippets.events drop column service_package, drop column service_version;
        alter table snippets.checkpoints rename column state to cursor;
        update snippets.meta set value = '2' where key = 'schema_version';
        update counters set hits = 1 where id <= 5000`);
      const v2 = { checksum, walks: { counters: { cursor: 5000, done: false, rows: 5000, batches: 5 } }, changes: { 'public.counters': { inserted: 0, updated: 5000, deleted: 0 } } };
      await database.query(`insert into snippets.checkpoints (repo, id, cursor, batches_done, rows_done) values ('fixture', '0001_count', $1::text::jsonb, 5, 5000)`, [JSON.stringify(v2)]);

      const result = await cli(['run']);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('counters: resuming after 5000 rows in 5 batches');
      const counts = await database.query<{ hits: number; n: number }>('select hits, count(*)::int as n from counters group by 1');
      expect(counts).toEqual([{ hits: 1, n: ROWS }]);
      const [row] = await database.query<{ rows_changed: unknown }>('select rows_changed from snippets.ledger');
      expect(row!.rows_changed).toEqual({ 'public.counters': { inserted: 0, updated: ROWS, deleted: 0 } });
      const [{ version } = { version: 0 }] = await database.query<{ version: number }>("select value::int as version from snippets.meta where key = 'schema_version'");
      expect(version).toBeGreaterThanOrEqual(3);
    } finally {
      await repo.dispose();
      await database.dispose();
    }
  });
});
