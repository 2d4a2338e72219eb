import { sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../src/database/database.ts';
import { queryRows } from '../src/database/queries.ts';
import { withRollback } from '../src/execution/executor.ts';
import { splitKeyRanges } from '../src/batching/key-ranges.ts';
import { parseTableName } from '../src/snippets/table-names.ts';
import { runCli, writeManifest } from './support/cli.ts';
import { createTestDatabase, type Driver, type TestDatabase } from './support/databases.ts';
import { createFixtureRepo, type FixtureRepo } from './support/fixture-repo.ts';

/**
 * A schema shaped like a real app's: drizzle's `pgTable('User', …)` makes quoted
 * mixed-case tables, uuid keys, reserved words as column names ("text", "user", "order")
 * and as a table name ("Order"), jsonb, a composite foreign key, a text primary key, and
 * a diamond of cascades: deleting a User reaches Message directly and through Thread.
 */
const APP_SCHEMA = `
  create table "User" (id uuid primary key default gen_random_uuid(), "user" text not null, email text, profile jsonb not null default '{}',
    hits int not null default 0, worker int);
  create table "Thread" (id uuid primary key default gen_random_uuid(), "ownerId" uuid not null references "User" on delete cascade, "order" int not null default 0);
  create table "Message" (id uuid primary key default gen_random_uuid(), "authorId" uuid not null references "User" on delete cascade,
    "threadId" uuid not null references "Thread" on delete cascade, "text" text not null, meta jsonb);
  create table "Order" (tenant text, id int, "userId" uuid references "User" on delete set null, primary key (tenant, id));
  create table "OrderLine" (tenant text, "orderId" int, line int, "order" int, data jsonb, primary key (tenant, "orderId", line),
    foreign key (tenant, "orderId") references "Order" (tenant, id) on delete cascade);
  create table "Tag" (label text primary key, "text" text, hits int not null default 0, worker int);
  create table "Counter" (id bigint primary key, hits int not null default 0, worker int);
  create table trades (id serial primary key, note text);
`;

function seed(users: number): string {
  return `
  insert into "User" ("user", email, profile) select 'user ' || g, 'u' || g || '@example.com', jsonb_build_object('n', g) from generate_series(1, ${users}) g;
  insert into "Thread" ("ownerId", "order") select id, k from "User", generate_series(1, 2) k;
  -- every thread gets a message from its owner and one from the next user: the diamond's two paths meet
  insert into "Message" ("authorId", "threadId", "text", meta)
    select u.id, t.id, 'hello', '{"a": 1}'::jsonb from "Thread" t join "User" u on u.id = t."ownerId"
    union all
    select (select id from "User" o where o."user" > u."user" order by o."user" limit 1), t.id, 'reply', null
      from "Thread" t join "User" u on u.id = t."ownerId" where u."user" <> (select max("user") from "User");
  insert into "Order" select 'acme', row_number() over (order by id), id from "User";
  insert into "OrderLine" select o.tenant, o.id, l, l, '{}'::jsonb from "Order" o, generate_series(1, 3) l;
  insert into "Tag" (label, "text") select 'tag-' || md5(g::text), 't' from generate_series(1, ${users}) g;
  insert into "Counter" (id) select 9007199254740993 + g * 1000 from generate_series(1, ${users}) g;
  `;
}

/** The service's drizzle schema, as a snippet repo imports it from the service. */
const DRIZZLE_SCHEMA = `import { bigint, integer, jsonb, pgTable, text, uuid } from 'drizzle-orm/pg-core';
export const users = pgTable('User', { id: uuid('id').primaryKey().defaultRandom(), user: text('user').notNull(), hits: integer('hits').notNull(), worker: integer('worker') });
export const threads = pgTable('Thread', { id: uuid('id').primaryKey(), ownerId: uuid('ownerId').notNull() });
export const messages = pgTable('Message', { id: uuid('id').primaryKey(), text: text('text').notNull(), meta: jsonb('meta') });
export const tags = pgTable('Tag', { label: text('label').primaryKey(), hits: integer('hits').notNull() });
export const counters = pgTable('Counter', { id: bigint('id', { mode: 'bigint' }).primaryKey(), hits: integer('hits').notNull() });
`;

// 'user 10' comes after 'user 1' in text order, so it also wrote the replies in user 1's threads.
const USER_10 = `id = (select id from "User" where "user" = 'user 10')`;

type Counts = Record<string, { deleted: number; updated: number }>;

/** The truth: run the DELETE in a transaction, read PostgreSQL's counts, roll it back. */
async function realDelete(database: Database, where: string): Promise<Counts> {
  return withRollback(database.db, async (tx) => {
    const counts = () =>
      queryRows<{ name: string; del: string; upd: string }>(tx, sql`select schemaname || '.' || relname as name, n_tup_del as del, n_tup_upd as upd from pg_stat_xact_user_tables`);
    const before = new Map((await counts()).map((r) => [r.name, r]));
    await tx.execute(sql.raw(`delete from "User" where ${where}`));
    const result: Counts = {};
    for (const row of await counts()) {
      const deleted = Number(row.del) - Number(before.get(row.name)?.del ?? 0);
      const updated = Number(row.upd) - Number(before.get(row.name)?.upd ?? 0);
      if (deleted || updated) result[row.name] = { deleted, updated };
    }
    return result;
  });
}

function open(driver: Driver, target: TestDatabase): Promise<Database> {
  return openDatabase(driver === 'postgres' ? { driver, url: target.url, display: 'test' } : { driver, dataDir: target.url.slice('pglite:'.length), display: 'test' });
}

function snippet(fields: string, imports = ''): string {
  return `import { defineSnippet } from '@snippets/runner';\n${imports}\nexport default defineSnippet({\n${fields}\n});\n`;
}

/** A snippet whose touches names `User`, which folds to public.user: the table is "User". */
const FOLDED_TOUCHES = snippet(`  description: 'touches a folded name',
  touches: ['User'],
  async up({ rows, sql }) {
    await rows(sql\`update "User" set hits = 99\`);
  },`);

describe.each<Driver>(['postgres', 'pglite'])('mixed-case tables on %s', (driver) => {
  let target: TestDatabase;
  let repo: FixtureRepo;
  const cli = (args: string[]) => runCli(args, { cwd: repo.dir, env: { DATABASE_URL: target.url } });

  beforeAll(async () => {
    target = await createTestDatabase(driver);
    await target.query(APP_SCHEMA + seed(20));
  });
  afterAll(async () => {
    await target.dispose();
  });
  beforeEach(async () => {
    repo = await createFixtureRepo({});
    await repo.write('schema.ts', DRIZZLE_SCHEMA);
  });
  afterEach(async () => {
    await repo.dispose();
    // Each test is its own repo: its ledger starts empty, the app's data stays.
    await target.query('drop schema if exists snippets cascade');
  });

  it('snippets impact --table \'"User"\' and \'public."User"\' count what a rolled-back DELETE does, through the diamond', async () => {
    const reports = [];
    for (const table of ['"User"', 'public."User"', ' PUBLIC . "User" ']) {
      const result = await cli(['impact', '--table', table, '--where', USER_10, '--json']);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      reports.push(JSON.parse(result.stdout));
    }
    expect(reports[1]).toEqual(reports[0]);
    expect(reports[2]).toEqual(reports[0]);
    expect(reports[0].table).toBe('public.User');

    const database = await open(driver, target);
    try {
      const truth = await realDelete(database, USER_10);
      const predicted = Object.fromEntries(
        (reports[0].tables as { table: string; deleted: number; nulled: number; defaulted: number }[]).map((t) => [t.table, { deleted: t.deleted, updated: t.nulled + t.defaulted }]),
      );
      expect(predicted).toEqual(truth);
      // The diamond: the user's own two threads with their 4 messages (their own 2 reached both
      // ways, counted once), plus the 2 replies they wrote in user 1's threads; the order lines
      // stay, behind a SET NULL.
      expect(truth).toEqual({
        'public.User': { deleted: 1, updated: 0 },
        'public.Thread': { deleted: 2, updated: 0 },
        'public.Message': { deleted: 6, updated: 0 },
        'public.Order': { deleted: 0, updated: 1 },
      });
    } finally {
      await database.close();
    }
  });

  it('--table User folds to user, and is answered with the table it may mean', async () => {
    const folded = await cli(['impact', '--table', 'User', '--where', 'true']);
    expect(folded.code).toBe(2);
    expect(folded.stderr).toContain('--table User: no such table; did you mean "User"?');
    const near = await cli(['impact', '--table', 'public.orderlines', '--where', 'true']);
    expect(near.code).toBe(2);
    expect(near.stderr).toContain('--table public.orderlines: no such table; did you mean "OrderLine"?');
    const broken = await cli(['impact', '--table', '"User', '--where', 'true']);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain(`--table '"User' is not a table name: a quoted name has no closing "`);
    // A lower-case table still goes by its plain name.
    expect((await cli(['impact', '--table', 'trades', '--where', 'false'])).code).toBe(0);
  });

  it('a snippet naming "User" by its drizzle object or as \'"User"\' runs, and plan shows the canonical name', async () => {
    await repo.write(
      'snippets/0001_rename.ts',
      snippet(
        `  description: 'rename user 2',
  touches: [users],
  async up({ db }) {
    await db.update(users).set({ user: 'renamed' }).where(eq(users.user, 'user 2'));
  },`,
        `import { eq } from 'drizzle-orm';\nimport { users } from '../schema.ts';`,
      ),
    );
    await repo.write(
      'snippets/0002_email.ts',
      snippet(`  description: 'clear email of user 3',
  dependsOn: ['0001_rename'],
  touches: ['"User"', 'public.trades'],
  async up({ rows, sql }) {
    await rows(sql\`update "User" set email = null where "user" = 'user 3'\`);
  },`),
    );
    await writeManifest(repo.dir);
    const plan = JSON.parse((await cli(['plan', '--json'])).stdout);
    expect(plan.pending.map((s: { touches: string[] }) => s.touches)).toEqual([['public.User'], ['public.User', 'public.trades']]);
    const result = await cli(['run', '--expect', '0001_rename', '0002_email']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(await target.query(`select "user", email from "User" where "user" in ('renamed', 'user 3') order by 1`)).toEqual([
      { user: 'renamed', email: 'u2@example.com' },
      { user: 'user 3', email: null },
    ]);
    const ledger = await target.query<{ id: string; rows_changed: unknown }>('select id, rows_changed from snippets.ledger order by id');
    expect(ledger.map((r) => r.rows_changed)).toEqual([{ 'public.User': { inserted: 0, updated: 1, deleted: 0 } }, { 'public.User': { inserted: 0, updated: 1, deleted: 0 } }]);
  });

  it('the touches check names a cascade into an undeclared mixed-case table as touches must spell it', async () => {
    await repo.write(
      'snippets/0001_drop_user.ts',
      snippet(
        `  description: 'delete user 4',
  touches: [users, threads],
  async up({ db }) {
    await db.delete(users).where(eq(users.user, 'user 4'));
  },`,
        `import { eq } from 'drizzle-orm';\nimport { threads, users } from '../schema.ts';`,
      ),
    );
    await writeManifest(repo.dir);
    const result = await cli(['run']);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('0001_drop_user: changed public."Message", public."Order", not declared in touches');
    expect(await target.query(`select count(*)::int as n from "User" where "user" = 'user 4'`)).toEqual([{ n: 1 }]);
  });

  it('a touches entry naming no table fails before up, with the table it may mean', async () => {
    await repo.write('snippets/0001_folded.ts', FOLDED_TOUCHES);
    await writeManifest(repo.dir);
    const result = await cli(['run']);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('0001_folded: touches public.user: no such table; did you mean "User"?; nothing ran');
    expect(await target.query('select count(*)::int as n from "User" where hits = 99')).toEqual([{ n: 0 }]);
    await repo.write('snippets/0001_folded.ts', snippet(`  description: 'bad', touches: ['"User'], async up() {},`));
    await writeManifest(repo.dir);
    const bad = await cli(['plan']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`snippets/0001_folded.ts: invalid snippet: touches.0 '"User' is not a table name: a quoted name has no closing "`);
  });

  it('records the attempt of a snippet whose touches name no table, when one committed just before it', async () => {
    await repo.write(
      'snippets/0001_hit.ts',
      snippet(`  description: 'counts a hit',
  touches: ['"User"'],
  async up({ rows, sql }) {
    await rows(sql\`update "User" set hits = hits + 1\`);
  },`),
    );
    await repo.write('snippets/0002_folded.ts', FOLDED_TOUCHES);
    await writeManifest(repo.dir);
    const result = await cli(['run', '--expect', '0001_hit,0002_folded']);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('0002_folded: touches public.user: no such table; did you mean "User"?; nothing ran');
    // On PostgreSQL 0002's transaction was begun behind 0001's COMMIT; its failure still goes on record.
    const history = JSON.parse((await cli(['history', '--json'])).stdout) as { events: { kind: string; snippetId: string }[] };
    expect(history.events.map((e) => `${e.kind} ${e.snippetId}`)).toEqual(['started 0001_hit', 'applied 0001_hit', 'started 0002_folded', 'failed 0002_folded']);
  });

  it('impact() and deleteSafely() take drizzle tables and quoted names, and answer a wrong name with a did-you-mean', async () => {
    await repo.write(
      'snippets/0001_delete_user.ts',
      snippet(
        `  description: 'delete user 5 and what hangs off it',
  touches: [users, threads, messages, '"Order"'],
  async up({ impact, deleteSafely, sql, log }) {
    const where = sql\`"user" = 'user 5'\`;
    const quoted = await impact('"User"', where);
    const byObject = await impact(users, where);
    log.info('impact ' + JSON.stringify(quoted.tables) + ' same ' + (JSON.stringify(quoted) === JSON.stringify(byObject)));
    await deleteSafely(users, where, { allowCascadeTo: [threads, messages, '"Order"'] });
  },`,
        `import { messages, threads, users } from '../schema.ts';`,
      ),
    );
    await repo.write(
      'snippets/0002_wrong_name.ts',
      snippet(`  description: 'names a table that is not there',
  dependsOn: ['0001_delete_user'],
  touches: ['"User"'],
  async up({ impact, sql }) {
    await impact('user', sql\`true\`);
  },`),
    );
    await writeManifest(repo.dir);
    const result = await cli(['run', '--expect', '0001_delete_user', '0002_wrong_name']);
    expect(result.stdout).toMatch(/impact \[.*"table":"public.Message","deleted":6.*\] same true/);
    expect(await target.query(`select count(*)::int as n from "User" where "user" = 'user 5'`)).toEqual([{ n: 0 }]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('0002_wrong_name: up failed: impact() user: no such table; did you mean "User"?');
  });
});

describe.each<Driver>(['postgres', 'pglite'])('batch() over uuid, text and bigint keys on %s', (driver) => {
  const ROWS = 2_500; // two key ranges of each table (one per 2,000 rows), so two workers share them
  const workers = driver === 'postgres' ? 2 : 1;
  let target: TestDatabase;
  let repo: FixtureRepo;

  beforeEach(async () => {
    target = await createTestDatabase(driver);
    await target.query(APP_SCHEMA + seed(ROWS));
  });
  afterEach(async () => {
    await repo.dispose();
    await target.dispose();
  });

  it(`walks each key type in ranges with --workers ${workers}, every row once`, async () => {
    repo = await createFixtureRepo({});
    await repo.write('schema.ts', DRIZZLE_SCHEMA);
    await repo.write(
      'snippets/0001_walk.ts',
      snippet(
        `  description: 'count every row of three tables once',
  transaction: 'batched',
  touches: [users, tags, counters],
  async up({ batch, sql }) {
    const stamp = sql.raw(${driver === 'postgres' ? "'pg_backend_pid()'" : "'1'"});
    // uuid key, named by drizzle objects, rows by inBatch
    await batch({
      table: users, key: users.id, size: 200, maxSize: 200,
      async process({ rows, sql, inBatch }) {
        await rows(sql\`update \${users} set hits = hits + 1, worker = \${stamp} where \${inBatch(users.id)}\`);
      },
    });
    // text key, named as in SQL, rows by from and to
    await batch({
      table: '"Tag"', key: 'label', size: 200, maxSize: 200,
      async process({ rows, sql, from, to }) {
        const lower = from === null ? sql\`true\` : sql\`label > \${from}\`;
        await rows(sql\`update "Tag" set hits = hits + 1, worker = \${stamp} where \${lower} and label <= \${to}\`);
      },
    });
    // bigint key above 2^53: the cursor must not round it
    await batch({
      table: counters, key: counters.id, size: 200, maxSize: 200,
      async process({ rows, sql, inBatch }) {
        await rows(sql\`update "Counter" set hits = hits + 1, worker = \${stamp} where \${inBatch(sql\`id\`)}\`);
      },
    });
  },
  async verify({ rows, sql }) {
    const [r] = await rows(sql\`select (select count(*) from "User" where hits <> 1) + (select count(*) from "Tag" where hits <> 1) + (select count(*) from "Counter" where hits <> 1) as n\`);
    return { ok: Number(r.n) === 0, message: r.n + ' rows not counted exactly once' };
  },`,
        `import { counters, tags, users } from '../schema.ts';`,
      ),
    );
    const cli = (args: string[]) => runCli(args, { cwd: repo.dir, env: { DATABASE_URL: target.url } });
    await writeManifest(repo.dir);
    const result = await cli(['run', '--workers', String(workers)]);
    expect(result.stderr).toBe('');
    expect(result.code, result.stdout).toBe(0);
    for (const table of ['"User"', '"Tag"', '"Counter"']) {
      expect(await target.query(`select hits, count(*)::int as n, count(distinct worker)::int as workers from ${table} group by 1`)).toEqual([{ hits: 1, n: ROWS, workers }]);
    }
    const [row] = await target.query<{ rows_changed: unknown }>('select rows_changed from snippets.ledger');
    expect(row!.rows_changed).toEqual({
      'public.Counter': { inserted: 0, updated: ROWS, deleted: 0 },
      'public.Tag': { inserted: 0, updated: ROWS, deleted: 0 },
      'public.User': { inserted: 0, updated: ROWS, deleted: 0 },
    });
  });

  it('splits uuid, text and bigint keys into ranges whose bounds JSON keeps exactly', async () => {
    repo = await createFixtureRepo({});
    const database = await open(driver, target);
    try {
      for (const [table, key] of [['"User"', 'id'], ['"Tag"', 'label'], ['"Counter"', 'id']] as const) {
        const ranges = await splitKeyRanges(database.db, parseTableName(table), key, sql`true`);
        expect(ranges.length).toBe(2);
        expect(ranges[0]!.lo).toBeNull();
        expect(ranges.at(-1)!.hi).toBeNull();
        for (const [i, range] of ranges.entries()) {
          if (i > 0) expect(range.lo).toBe(ranges[i - 1]!.hi);
          if (range.hi !== null) expect(typeof range.hi).toBe('string');
          expect(JSON.parse(JSON.stringify(range))).toEqual(range);
        }
        // Every row in exactly one range, compared by the server as the walk compares keys.
        const column = sql.identifier(key);
        const inRange = ranges.map(({ lo, hi }) => sql`(${lo === null ? sql`true` : sql`${column} > ${lo}`} and ${hi === null ? sql`true` : sql`${column} <= ${hi}`})::int`);
        const [row] = await queryRows<{ n: number; once: number }>(
          database.db,
          sql`select count(*)::int as n, count(*) filter (where ${sql.join(inRange, sql` + `)} = 1)::int as once from ${sql.raw(table)}`,
        );
        expect(row, table).toEqual({ n: ROWS, once: ROWS });
      }
    } finally {
      await database.close();
    }
  });

  it('a walk of a table that does not exist says which one it may mean', async () => {
    repo = await createFixtureRepo({
      '0001_walk.ts': snippet(`  description: 'walks a folded name',
  transaction: 'batched',
  touches: ['"Tag"'],
  async up({ batch }) {
    await batch({ table: 'tag', key: 'label', async process() {} });
  },`),
    });
    const cli = (args: string[]) => runCli(args, { cwd: repo.dir, env: { DATABASE_URL: target.url } });
    await writeManifest(repo.dir);
    const result = await cli(['run']);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('0001_walk: up failed: batch() table tag: no such table; did you mean "Tag"?');
  });
});
