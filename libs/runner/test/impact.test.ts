import { sql, type SQL } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, seed } from '@snippets/example-service';
import { openDatabase, type Database } from '../src/database/database.ts';
import { queryRows } from '../src/database/queries.ts';
import { analyseImpact, deleteSafely } from '../src/impact/impact.ts';
import { withRollback } from '../src/execution/executor.ts';
import { runCli } from './support/cli.ts';
import { createTestDatabase, type Driver, type TestDatabase } from './support/databases.ts';
import { createFixtureRepo, defaultConfig } from './support/fixture-repo.ts';

/** A schema with the shapes a deletion collector must get right. */
const TRICKY_SCHEMA = `
  create table chain_a (id int primary key);
  create table chain_b (id int primary key, a_id int references chain_a on delete cascade);
  create table chain_c (id int primary key, b_id int references chain_b on delete cascade);
  create table nullable_ref (id int primary key, a_id int references chain_a on delete set null);
  create table node (id int primary key, parent_id int references node on delete cascade);
  create table ring_x (id int primary key, y_id int);
  create table ring_y (id int primary key, x_id int references ring_x on delete cascade);
  alter table ring_x add foreign key (y_id) references ring_y on delete cascade;
  create table tenant_order (tenant int, id int, primary key (tenant, id));
  create table order_line (tenant int, order_id int, line int, primary key (tenant, order_id, line),
    foreign key (tenant, order_id) references tenant_order on delete cascade);
  create table guarded (id int primary key, a_id int references chain_a);
  create table shelf (id int primary key);
  create table shelf_item (shelf_id int references shelf on delete cascade, label text);
  create table shelf_tag (id int primary key, shelf_id int default 1 references shelf on delete set default);
  insert into chain_a select g from generate_series(1, 20) g;
  insert into chain_b select g, (g % 20) + 1 from generate_series(1, 60) g;
  insert into chain_c select g, (g % 60) + 1 from generate_series(1, 180) g;
  insert into nullable_ref select g, (g % 20) + 1 from generate_series(1, 40) g;
  insert into node values (1, null), (2, 1), (3, 2), (4, 3), (5, 1), (6, null), (7, 6);
  insert into ring_x select g, null from generate_series(1, 10) g;
  insert into ring_y select g, g from generate_series(1, 10) g;
  update ring_x set y_id = (id % 10) + 1;
  insert into tenant_order select t, o from generate_series(1, 3) t, generate_series(1, 5) o;
  insert into order_line select t, o, l from generate_series(1, 3) t, generate_series(1, 5) o, generate_series(1, 4) l;
  insert into guarded values (1, 20);
  insert into shelf select g from generate_series(1, 5) g;
  insert into shelf_item select (g % 5) + 1, 'item ' || g from generate_series(1, 25) g;
  insert into shelf_tag select g, (g % 5) + 1 from generate_series(1, 10) g;
`;

/** The truth: run the DELETE in a transaction, read PostgreSQL's counts, roll it back. */
async function realDelete(database: Database, table: string, where: SQL): Promise<Record<string, { deleted: number; updated: number }>> {
  return withRollback(database.db, async (tx) => {
    const counts = () =>
      queryRows<{ name: string; del: string; upd: string }>(tx, sql`select schemaname || '.' || relname as name, n_tup_del as del, n_tup_upd as upd from pg_stat_xact_user_tables`);
    const before = new Map((await counts()).map((r) => [r.name, r]));
    await tx.execute(sql`delete from ${sql.identifier(table)} where ${where}`);
    const result: Record<string, { deleted: number; updated: number }> = {};
    for (const row of await counts()) {
      const deleted = Number(row.del) - Number(before.get(row.name)?.del ?? 0);
      const updated = Number(row.upd) - Number(before.get(row.name)?.upd ?? 0);
      if (deleted || updated) result[row.name] = { deleted, updated };
    }
    return result;
  });
}

async function predicted(database: Database, table: string, where: SQL) {
  const report = await analyseImpact(database.db, table, where);
  return Object.fromEntries(report.tables.map((t) => [t.table, { deleted: t.deleted, updated: t.nulled + t.defaulted }]));
}

describe.each<Driver>(['postgres', 'pglite'])('cascade impact on %s', (driver) => {
  let target: TestDatabase;
  let database: Database;

  beforeAll(async () => {
    target = await createTestDatabase(driver);
    database = await openDatabase(driver === 'postgres' ? { driver, url: target.url, display: 'test' } : { driver, dataDir: target.url.slice('pglite:'.length), display: 'test' });
    await migrate(database.db as never);
    await seed(database.db as never);
    for (const statement of TRICKY_SCHEMA.split(';').map((s) => s.trim()).filter(Boolean)) await database.db.execute(sql.raw(statement));
  });
  afterAll(async () => {
    await database.close();
    await target.dispose();
  });

  it.each([
    ['bank_account_entries', 'cascade to reconciliation matches', sql`id <= 200`],
    ['trades', 'SET NULL on matches', sql`id <= 100`],
    ['chain_a', 'a cascade chain plus SET NULL', sql`id <= 5`],
    ['node', 'a self reference', sql`id = 1`],
    ['ring_x', 'a cycle', sql`id = 3`],
    ['tenant_order', 'composite keys', sql`tenant = 2 and id in (1, 2)`],
    ['shelf', 'no primary key and SET DEFAULT', sql`id in (2, 3)`],
  ] as const)('%s (%s) matches what a real DELETE does', async (table, _shape, where) => {
    const truth = await realDelete(database, table, where);
    expect(Object.keys(truth).length).toBeGreaterThan(0);
    expect(await predicted(database, table, where)).toEqual(truth);
  });

  it('names the references that would block a delete, with sample keys', async () => {
    const report = await analyseImpact(database.db, 'chain_a', sql`id = 20`);
    expect(report.blocked).toEqual([{ table: 'public.guarded', constraint: 'guarded_a_id_fkey', references: 'public.chain_a', rows: 1, sample: ['1'] }]);
  });

  it('deleteSafely refuses a cascade into an undeclared table before deleting anything', async () => {
    await withRollback(database.db, async (tx) => {
      await expect(deleteSafely(tx, 'chain_a', sql`id = 1`)).rejects.toThrow(
        /delete from public\.chain_a would reach public\.chain_b \(3 deleted, 0 nulled, 0 defaulted\), public\.chain_c \(9 deleted, 0 nulled, 0 defaulted\), public\.nullable_ref \(0 deleted, 2 nulled, 0 defaulted\); nothing was deleted/,
      );
      const [left] = await queryRows<{ n: number }>(tx, sql`select count(*)::int as n from chain_a where id = 1`);
      expect(left!.n).toBe(1);
      const report = await deleteSafely(tx, 'chain_a', sql`id = 1`, { allowCascadeTo: ['chain_b', 'chain_c', 'nullable_ref'] });
      expect(report.tables.map((t) => t.table)).toEqual(['public.chain_a', 'public.chain_b', 'public.chain_c', 'public.nullable_ref']);
      const [gone] = await queryRows<{ n: number }>(tx, sql`select count(*)::int as n from chain_a where id = 1`);
      expect(gone!.n).toBe(0);
    });
  });
});

describe('snippets impact', () => {
  it('prints the impact as JSON and runs the --where read-only', async () => {
    const target = await createTestDatabase('postgres');
    const repo = await createFixtureRepo({}, defaultConfig());
    try {
      await target.query('create table parent (id int primary key); create table child (id int primary key, parent_id int references parent on delete cascade)');
      await target.query('insert into parent select generate_series(1, 3); insert into child select g, (g % 3) + 1 from generate_series(1, 9) g');
      await target.query(`create function purge_children() returns int language sql as 'delete from child returning 1'`);
      const env = { DATABASE_URL: target.url };
      const result = await runCli(['impact', '--table', 'parent', '--where', 'id = 1', '--json'], { cwd: repo.dir, env });
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout).tables).toEqual([
        { table: 'public.child', deleted: 3, nulled: 0, defaulted: 0, sample: ['3', '6', '9'] },
        { table: 'public.parent', deleted: 1, nulled: 0, defaulted: 0, sample: ['1'] },
      ]);
      const sneaky = await runCli(['impact', '--table', 'parent', '--where', 'id = purge_children()'], { cwd: repo.dir, env });
      expect(sneaky.stderr).toContain('cannot execute DELETE in a read-only transaction');
      expect(sneaky.code).toBe(2);
      expect(await target.query('select count(*)::int as n from child')).toEqual([{ n: 9 }]);
      const missing = await runCli(['impact', '--table', 'nope', '--where', 'true'], { cwd: repo.dir, env });
      expect(missing.stderr).toContain('--table nope: no such table; no table public.nope in this database');
      expect(missing.code).toBe(2);
    } finally {
      await repo.dispose();
      await target.dispose();
    }
  });
});

describe.each<Driver>(['postgres', 'pglite'])('snippets impact with a --where the server rejects, on %s', (driver) => {
  let target: TestDatabase;
  let repo: Awaited<ReturnType<typeof createFixtureRepo>>;

  beforeAll(async () => {
    target = await createTestDatabase(driver);
    repo = await createFixtureRepo({}, defaultConfig());
    await target.query('create table parent (id int primary key); create table x (id int); insert into parent select generate_series(1, 3); insert into x values (1)');
  });
  afterAll(async () => {
    await repo.dispose();
    await target.dispose();
  });

  it.each([
    { where: '1=1; drop table x', message: 'syntax error at or near ";"' },
    { where: 'id = = 1', message: 'syntax error at or near "="' },
    { where: 'nope = 1', message: 'column "nope" does not exist' },
    { where: "id = 'abc'", message: 'invalid input syntax for type integer: "abc"' },
  ])('--where $where is bad input (exit 2), names --where and the server message, and writes nothing', async ({ where, message }) => {
    const result = await runCli(['impact', '--table', 'parent', '--where', where], { cwd: repo.dir, env: { DATABASE_URL: target.url } });
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(`snippets: --where '${where}' was rejected by the database: ${message}; pass one read-only condition on parent's columns, e.g. --where "id = 42"\n`);
    expect(result.code).toBe(2);
    expect(await target.query('select count(*)::int as n from x')).toEqual([{ n: 1 }]);
    expect(await target.query('select count(*)::int as n from parent')).toEqual([{ n: 3 }]);
  });
});
