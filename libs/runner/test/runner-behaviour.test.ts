import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli, writeManifest } from './support/cli.ts';
import { createTestDatabase, schemaExists, type Driver, type TestDatabase } from './support/databases.ts';
import { createFixtureRepo, defaultConfig, effectSnippet, type FixtureRepo } from './support/fixture-repo.ts';

/** The same behaviour, on a real PostgreSQL server and on embedded PGlite. */
describe.each<Driver>(['postgres', 'pglite'])('snippets run on %s', (driver) => {
  let database: TestDatabase;
  let repo: FixtureRepo;
  const cli = (args: string[], env: Record<string, string> = {}) =>
    runCli(args, { cwd: repo.dir, env: { DATABASE_URL: database.url, ...env } });
  const effects = async () =>
    (await database.query<{ snippet: string; n: number }>('select snippet, count(*)::int as n from effects group by 1 order by 1'))
      .map((r) => `${r.snippet}×${r.n}`);
  const ledger = async () => {
    if (!(await schemaExists(database, 'snippets'))) return [];
    return database.query<{ id: string; status: string; approved_by: string | null; executed_by: string; git_sha: string | null; rows_changed: unknown }>(
      'select id, status, approved_by, executed_by, git_sha, rows_changed from snippets.ledger order by number',
    );
  };
  const three = ['0001_first', '0002_second', '0003_third'];

  beforeEach(async () => {
    database = await createTestDatabase(driver);
    await database.query('create table effects (snippet text not null, at timestamptz not null default now())');
    repo = await createFixtureRepo({
      '0001_first.ts': effectSnippet('0001_first'),
      '0002_second.ts': effectSnippet('0002_second', { dependsOn: ['0001_first'] }),
      '0003_third.ts': effectSnippet('0003_third', { dependsOn: ['0002_second'], down: true }),
    });
    await writeManifest(repo.dir);
  });

  afterEach(async () => {
    await repo.dispose();
    await database.dispose();
  });

  it('applies each pending snippet once, in order, with its audit fields, and a second run does nothing', async () => {
    const audit = { SNIPPETS_APPROVED_BY: 'alice', SNIPPETS_EXECUTED_BY: 'pipeline', SNIPPETS_GIT_SHA: 'abc123' };
    const first = await cli(['run', '--expect', ...three], audit);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/0001_first[\s\S]*0002_second[\s\S]*0003_third/);
    expect(first.stdout).toContain('applied 3 snippet(s)');

    const second = await cli(['run']);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('nothing to run');

    expect(await effects()).toEqual(['0001_first×1', '0002_second×1', '0003_third×1']);
    const rows = await ledger();
    expect(rows.map((r) => [r.id, r.status, r.approved_by, r.executed_by, r.git_sha])).toEqual(
      three.map((id) => [id, 'applied', 'alice', 'pipeline', 'abc123']),
    );
    expect(rows[0]!.rows_changed).toEqual({ 'public.effects': { inserted: 1, updated: 0, deleted: 0 } });

    const status = JSON.parse((await cli(['status', '--json'])).stdout);
    expect(status.snippets.map((s: { state: string }) => s.state)).toEqual(['applied', 'applied', 'applied']);
    const history = JSON.parse((await cli(['history', '--json'])).stdout);
    expect(history.events.map((e: { kind: string }) => e.kind)).toEqual(['started', 'applied', 'started', 'applied', 'started', 'applied']);
  });

  it("commits every snippet but the last without waiting for the WAL flush, which the last one's commit does for all", async () => {
    const commitMode = "await rows(sql`insert into effects (snippet) select 'commit ' || current_setting('synchronous_commit')`);";
    await repo.write('snippets/0001_first.ts', effectSnippet('0001_first', { before: commitMode }));
    await repo.write('snippets/0002_second.ts', effectSnippet('0002_second', { dependsOn: ['0001_first'], before: commitMode }));
    await repo.write('snippets/0003_third.ts', effectSnippet('0003_third', { dependsOn: ['0002_second'], before: commitMode }));
    await writeManifest(repo.dir);
    const result = await cli(['run', '--expect', ...three]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(await effects()).toEqual(['0001_first×1', '0002_second×1', '0003_third×1', 'commit off×2', 'commit on×1']);
  });

  it('rolls a snippet back with its ledger row when verify fails, and stops there', async () => {
    await repo.write('snippets/0002_second.ts', effectSnippet('0002_second', { dependsOn: ['0001_first'], verify: `return { ok: false, message: 'totals do not add up' };` }));
    await writeManifest(repo.dir);
    const result = await cli(['run', '--expect', ...three]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('0002_second: verify failed: totals do not add up; the transaction was rolled back');
    expect(result.stdout).toContain('not run: 0003_third');
    expect(await effects()).toEqual(['0001_first×1']);
    expect((await ledger()).map((r) => r.id)).toEqual(['0001_first']);
    const history = JSON.parse((await cli(['history', '0002_second', '--json'])).stdout);
    expect(history.events.map((e: { kind: string }) => e.kind)).toEqual(['started', 'failed']);
  });

  it('fails and rolls back a snippet that changes a table it did not declare in touches', async () => {
    await database.query('create table other (x int)');
    await repo.write('snippets/0001_first.ts', effectSnippet('0001_first', { before: 'await rows(sql`insert into other values (1)`);' }));
    await writeManifest(repo.dir);
    const result = await cli(['run', '--expect', ...three]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('0001_first: changed public.other, not declared in touches');
    expect(await effects()).toEqual([]);
    expect(await database.query('select * from other')).toEqual([]);
    expect(await ledger()).toEqual([]);
    // Recorded after the refusal, on the connection that had 0002's transaction begun behind 0001's COMMIT.
    const history = JSON.parse((await cli(['history', '--json'])).stdout);
    expect(history.events.map((e: { kind: string; snippetId: string }) => `${e.kind} ${e.snippetId}`)).toEqual(['started 0001_first', 'failed 0001_first']);
  });

  it('stops at a snippet whose COMMIT fails (a deferred constraint), leaving none of it and running nothing after it', async () => {
    await database.query('create table parent (id int primary key)');
    await database.query('create table child (parent_id int references parent deferrable initially deferred)');
    const orphan = 'await rows(sql`insert into child values (42)`);';
    await repo.write('snippets/0002_second.ts', effectSnippet('0002_second', { dependsOn: ['0001_first'], touches: ['effects', 'child'], before: orphan }));
    await writeManifest(repo.dir);
    const result = await cli(['run', '--expect', ...three]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('0002_second: commit failed: insert or update on table "child" violates foreign key constraint "child_parent_id_fkey"');
    expect(result.stdout).toContain('not run: 0003_third');
    expect(await effects()).toEqual(['0001_first×1']);
    expect(await database.query('select * from child')).toEqual([]);
    expect((await ledger()).map((r) => r.id)).toEqual(['0001_first']);
    // 0003's transaction, begun behind the failed COMMIT, left nothing open; the failure is on record.
    const history = JSON.parse((await cli(['history', '--json'])).stdout);
    expect(history.events.map((e: { kind: string; snippetId: string }) => `${e.kind} ${e.snippetId}`)).toEqual([
      'started 0001_first',
      'applied 0001_first',
      'started 0002_second',
      'failed 0002_second',
    ]);
    // The failed COMMIT ended its transaction: a second run applies the fixed snippet and the rest.
    await repo.write('snippets/0002_second.ts', effectSnippet('0002_second', { dependsOn: ['0001_first'], touches: ['effects', 'child'] }));
    await writeManifest(repo.dir);
    expect((await cli(['run'])).code).toBe(0);
    expect(await effects()).toEqual(['0001_first×1', '0002_second×1', '0003_third×1']);
  });

  it("runs a snippet's nested transactions as savepoints: one rolled back leaves the rest of the snippet", async () => {
    await repo.write(
      'snippets/0001_first.ts',
      `import { defineSnippet } from '@snippets/runner';

export default defineSnippet({
  description: 'record that 0001_first ran, with a savepoint kept and one rolled back',
  touches: ['effects'],
  async up({ db, sql }) {
    await db.execute(sql\`insert into effects (snippet) values ('0001_first')\`);
    await db.transaction(async (inner) => {
      await inner.execute(sql\`insert into effects (snippet) values ('kept')\`);
    });
    await db
      .transaction(async (inner) => {
        await inner.execute(sql\`insert into effects (snippet) values ('rolled back')\`);
        inner.rollback();
      })
      .catch(() => {});
  },
});
`,
    );
    await writeManifest(repo.dir);
    const result = await cli(['run', '--expect', ...three]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(await effects()).toEqual(['0001_first×1', '0002_second×1', '0003_third×1', 'kept×1']);
    expect((await ledger()).map((r) => r.id)).toEqual(three);
  });

  it('goes on when a snippet releases the repo lock, as each transaction takes it again while no other runner has it', async () => {
    await repo.write('snippets/0001_first.ts', effectSnippet('0001_first', { before: 'await rows(sql`select pg_advisory_unlock_all()`);' }));
    await writeManifest(repo.dir);
    const result = await cli(['run', '--expect', ...three]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(await effects()).toEqual(['0001_first×1', '0002_second×1', '0003_third×1']);
  });

  it('dry-run runs everything and rolls it all back, recording nothing', async () => {
    const result = await cli(['run', '--dry-run', '--expect', ...three]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('would apply 3 snippet(s)');
    expect(result.stdout).toContain('effects +1');
    expect(await effects()).toEqual([]);
    expect(await ledger()).toEqual([]);
  });

  it('refuses an empty ledger facing history until baseline, then runs only what follows', async () => {
    const refused = await cli(['run']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('the ledger is empty but the repo has 3 snippets');
    expect(await effects()).toEqual([]);
    expect(await schemaExists(database, 'snippets')).toBe(false);

    const baseline = await cli(['baseline', '--through', '0002_second']);
    expect(baseline.code).toBe(0);
    expect(baseline.stdout).toContain('0002_second  baselined');
    const run = await cli(['run']);
    expect(run.code).toBe(0);
    expect(await effects()).toEqual(['0003_third×1']);
    expect((await ledger()).map((r) => `${r.id}:${r.status}`)).toEqual(['0001_first:baselined', '0002_second:baselined', '0003_third:applied']);
  });

  it('baselines a long history: more rows than one statement can carry parameters for', async () => {
    // 5,000 baselined ledger rows of 14 values each are over PostgreSQL's 65,535 parameters per statement.
    const history = Array.from({ length: 5000 }, (_, i) => `${String(i + 4).padStart(4, '0')}_older`);
    for (const id of history) await repo.write(`snippets/${id}.ts`, effectSnippet(id));
    await writeManifest(repo.dir);
    const baseline = await cli(['baseline', '--through', history.at(-1)!]);
    expect(baseline.stderr).toBe('');
    expect(baseline.code).toBe(0);
    const [counts] = await database.query<{ rows: number; events: number }>(
      "select (select count(*)::int from snippets.ledger where status = 'baselined') as rows, (select count(*)::int from snippets.events where kind = 'baselined') as events",
    );
    expect(counts).toEqual({ rows: 5003, events: 5003 });
    expect((await cli(['run'])).stdout).toContain('nothing to run');
  });

  it('refuses a run whose pending set differs from --expect', async () => {
    const result = await cli(['run', '--expect', '0001_first', '0002_second']);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('--expect does not match the pending set (pending but not expected: 0003_third)');
    expect(await effects()).toEqual([]);
    expect(await ledger()).toEqual([]);
  });

  it('refuses a tree that differs from snippets.lock, and a changed applied file', async () => {
    expect((await cli(['run', '--expect', ...three])).code).toBe(0);

    await repo.write('snippets/0004_fourth.ts', effectSnippet('0004_fourth'));
    const unlisted = await cli(['run']);
    expect(unlisted.code).toBe(3);
    expect(unlisted.stderr).toContain('snippets/0004_fourth.ts: it is not listed in snippets.lock, so this is not the reviewed tree');
    expect((await cli(['manifest', '--check'])).code).toBe(3);

    await writeManifest(repo.dir);
    await repo.write('snippets/0001_first.ts', `${effectSnippet('0001_first')}// edited after it ran\n`);
    const changed = await cli(['run']);
    expect(changed.code).toBe(3);
    expect(changed.stderr).toMatch(/snippets\/0001_first\.ts: changed since it was applied on \S+ \(ledger sha256 [0-9a-f]{12}, file [0-9a-f]{12}\)/);
    const [{ at } = { at: 'no ledger row' }] = await database.query<{ at: string }>(
      `select to_char(finished_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as at from snippets.ledger where id = '0001_first'`,
    );
    expect(changed.stderr).toContain(`applied on ${at} (ledger sha256`);
    expect(JSON.parse((await cli(['status', '--json'])).stdout).snippets[0].state).toBe('changed');

    expect(await effects()).toEqual(['0001_first×1', '0002_second×1', '0003_third×1']);
    expect((await ledger()).map((r) => r.id)).toEqual(three);
    const kinds = JSON.parse((await cli(['history', '--json'])).stdout).events.map((e: { kind: string }) => e.kind);
    expect(kinds.filter((k: string) => k === 'refused')).toHaveLength(2);
  });

  it('reverts an applied snippet with a reason, audited, and never runs it again', async () => {
    expect((await cli(['run', '--expect', ...three])).code).toBe(0);
    const noReason = await cli(['revert', '0003_third']);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toContain("required option '--reason <text>' not specified");

    const blocked = await cli(['revert', '0002_second', '--reason', 'wrong data']);
    expect(blocked.code).toBe(2);
    expect(blocked.stderr).toContain('snippets/0002_second.ts: has no down()');

    const reverted = await cli(['revert', '0003_third', '--reason', 'partner asked to undo'], { SNIPPETS_EXECUTED_BY: 'sre-on-call' });
    expect(reverted.code).toBe(0);
    expect(await effects()).toEqual(['0001_first×1', '0002_second×1']);
    expect((await ledger()).map((r) => `${r.id}:${r.status}`)).toEqual(['0001_first:applied', '0002_second:applied', '0003_third:reverted']);
    const history = JSON.parse((await cli(['history', '0003_third', '--json'])).stdout).events;
    expect(history.at(-1)).toMatchObject({ kind: 'reverted', reason: 'partner asked to undo', executedBy: 'sre-on-call' });

    expect((await cli(['run'])).stdout).toContain('nothing to run');
    expect(await effects()).toEqual(['0001_first×1', '0002_second×1']);
  });

  it('refuses the history of an id that is no snippet of the repo; a known snippet without events has no history yet', async () => {
    const noHistory = async (id: string) => {
      const result = await cli(['history', id]);
      expect([result.code, result.stdout, result.stderr]).toEqual([0, 'no history yet\n', '']);
    };
    const unknown = async (args: string[]) => {
      const result = await cli(args);
      expect([result.code, result.stdout, result.stderr]).toEqual([2, '', 'snippets: history NOPE: no snippet NOPE in this repo; run snippets status for the ids\n']);
    };
    await unknown(['history', 'NOPE']);
    expect(await schemaExists(database, 'snippets')).toBe(false);
    await noHistory('0001_first');

    expect((await cli(['run', '--expect', ...three])).code).toBe(0);
    await unknown(['history', 'NOPE']);
    await unknown(['history', 'NOPE', '--json']);
    // Folded by a squash: the file is kept in the archive for audit.
    await repo.write('snippets/archive/0000_folded.ts', '// replaced by a squash\n');
    await noHistory('0000_folded');
    // Known to the ledger alone: its file is gone and its events were pruned.
    await repo.remove('snippets/0003_third.ts');
    await database.query(`delete from snippets.events where snippet_id = '0003_third'`);
    await noHistory('0003_third');
  });

  it('times the ledger and the events by the server clock: each snippet starts before it is applied, in insertion order', async () => {
    await database.query('create table counters (id serial primary key, hits int not null default 0); insert into counters (hits) select 0 from generate_series(1, 50)');
    await repo.write('snippets/0001_first.ts', effectSnippet('0001_first', { before: 'await rows(sql`select pg_sleep(0.05)`);' }));
    await repo.write(
      'snippets/0004_counted.ts',
      `import { defineSnippet } from '@snippets/runner';
export default defineSnippet({
  description: 'count every counter, in batches', transaction: 'batched', dependsOn: ['0003_third'], touches: ['counters'],
  async up({ batch, sql }) {
    await batch({ table: 'counters', size: 20, async process({ rows, sql, from, to }) {
      await rows(sql\`select pg_sleep(0.01)\`);
      await rows(sql\`update counters set hits = hits + 1 where id > \${from ?? 0} and id <= \${to}\`);
    } });
  },
});
`,
    );
    await writeManifest(repo.dir);
    const ids = [...three, '0004_counted'];
    const result = await cli(['run', '--expect', ...ids]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);

    // Microseconds since the epoch, as text: a Date would round away the order of close events.
    const micros = (column: string) => `(extract(epoch from ${column}) * 1000000)::bigint::text`;
    const events = await database.query<{ seq: number; kind: string; snippet_id: string; at: string }>(
      `select seq::int, kind, snippet_id, ${micros('at')} as at from snippets.events order by seq`,
    );
    const byTime = await database.query<{ seq: number }>('select seq::int from snippets.events order by at, seq');
    expect(byTime.map((e) => e.seq)).toEqual(events.map((e) => e.seq));
    for (let i = 1; i < events.length; i++) expect(BigInt(events[i]!.at)).toBeGreaterThan(BigInt(events[i - 1]!.at));

    const rows = await database.query<{ id: string; started_at: string; finished_at: string; duration_ms: number }>(
      `select id, ${micros('started_at')} as started_at, ${micros('finished_at')} as finished_at, duration_ms from snippets.ledger order by number`,
    );
    expect(rows.map((r) => r.id)).toEqual(ids);
    for (const row of rows) {
      const started = events.find((e) => e.snippet_id === row.id && e.kind === 'started')!;
      const applied = events.find((e) => e.snippet_id === row.id && e.kind === 'applied')!;
      expect(BigInt(started.at)).toBeLessThan(BigInt(applied.at));
      expect(BigInt(started.at)).toBeLessThanOrEqual(BigInt(row.started_at));
      expect(BigInt(row.started_at)).toBeLessThan(BigInt(row.finished_at));
      expect(applied.at).toBe(row.finished_at);
      const elapsedMs = Number(BigInt(row.finished_at) - BigInt(row.started_at)) / 1000;
      expect(Math.abs(row.duration_ms - elapsedMs)).toBeLessThanOrEqual(1);
    }
    expect(rows[0]!.duration_ms).toBeGreaterThanOrEqual(50);
    expect(rows[3]!.duration_ms).toBeGreaterThanOrEqual(30);

    // The history shows the same: every snippet started, then applied, in time order.
    const history = JSON.parse((await cli(['history', '--json'])).stdout).events as { at: string; kind: string; snippetId: string; detail: { durationMs?: number } | null }[];
    expect(history.map((e) => `${e.kind} ${e.snippetId}`)).toEqual(ids.flatMap((id) => [`started ${id}`, `applied ${id}`]));
    const at = history.map((e) => Date.parse(e.at));
    expect(at).toEqual([...at].sort((a, b) => a - b));
    expect(history.filter((e) => e.kind === 'applied').map((e) => e.detail?.durationMs)).toEqual(rows.map((r) => r.duration_ms));
  });

  it('re-runs post-checks with verify and fails when the data drifted', async () => {
    expect((await cli(['run', '--expect', ...three])).code).toBe(0);
    expect((await cli(['verify'])).code).toBe(0);
    await database.query(`insert into effects (snippet) values ('0002_second')`);
    const drifted = await cli(['verify', '0002_second']);
    expect(drifted.code).toBe(1);
    expect(drifted.stdout).toContain('expected one effect row, found 2');
  });

  it('refuses a snippet whose service migration is not applied', async () => {
    await database.query(
      `create schema drizzle; create table drizzle.__drizzle_migrations (id serial primary key, hash text not null, created_at bigint)`,
    );
    await repo.write('migrations/meta/_journal.json', JSON.stringify({ entries: [{ tag: '0000_init' }, { tag: '0001_add_col' }] }));
    await repo.write('migrations/0000_init.sql', 'create table t (id int);');
    await repo.write('migrations/0001_add_col.sql', 'alter table t add column c int;');
    await repo.write('snippets.config.ts', `import { defineConfig } from '@snippets/runner';
export default defineConfig({ repo: 'fixture', service: { migrationsFolder: 'migrations' } });
`);
    await repo.write('snippets/0004_fourth.ts', effectSnippet('0004_fourth', { requires: ['0001_add_col'] }));
    await writeManifest(repo.dir);
    await cli(['baseline', '--through', '0003_third']);

    const refused = await cli(['run']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('snippets/0004_fourth.ts: requires service migration 0001_add_col, which this database has not applied');

    const { createHash } = await import('node:crypto');
    const hash = createHash('sha256').update('alter table t add column c int;').digest('hex');
    await database.query(`insert into drizzle.__drizzle_migrations (hash, created_at) values ($1, 1)`, [hash]);
    expect((await cli(['run'])).code).toBe(0);
    expect(await effects()).toEqual(['0004_fourth×1']);
  });

  it("follows another tool's version table for requires.migrations, and refuses requires under schemaVersion 'none'", async () => {
    await database.query(`create table "SchemaMigrations" ("version" text primary key); insert into "SchemaMigrations" values ('20240501_init')`);
    await repo.write('schema.sql', 'create table effects (snippet text, at timestamptz default now());');
    const configWith = (version: string) => `import { defineConfig } from '@snippets/runner';
export default defineConfig({ repo: 'fixture', service: { schemaFile: 'schema.sql', schemaVersion: ${version} } });
`;
    await repo.write('snippets.config.ts', configWith(`{ table: 'SchemaMigrations', column: 'version' }`));
    await repo.write('snippets/0004_fourth.ts', effectSnippet('0004_fourth', { requires: ['20240612_add_col'] }));
    await writeManifest(repo.dir);
    await cli(['baseline', '--through', '0003_third']);

    await repo.write('snippets.config.ts', configWith(`'none'`));
    const none = await cli(['plan']);
    expect(none.code).toBe(2);
    expect(none.stderr).toBe("snippets: snippets/0004_fourth.ts: requires service migrations but snippets.config.ts says service.schemaVersion 'none'; name the table that records the version, or drop requires\n");

    await repo.write('snippets.config.ts', configWith(`{ table: 'SchemaMigrations', column: 'version' }`));
    const refused = await cli(['run']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('snippets/0004_fourth.ts: requires service migration 20240612_add_col, which this database has not applied');
    await database.query(`insert into "SchemaMigrations" values ('20240612_add_col')`);
    expect((await cli(['run'])).code).toBe(0);
    expect(await effects()).toEqual(['0004_fourth×1']);
  });

  it('refuses and rolls back a snippet that changes the schema, and records the refusal', async () => {
    await repo.write('snippets/0001_first.ts', effectSnippet('0001_first', { before: 'await rows(sql`alter table effects add column note text`);' }));
    await writeManifest(repo.dir);
    const result = await cli(['run', '--expect', ...three]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('snippets/0001_first.ts: changed the schema (added column public.effects.note text); schema changes belong in the service\'s migrations (rolled back)');
    const columns = await database.query<{ column_name: string }>(`select column_name from information_schema.columns where table_name = 'effects' order by 1`);
    expect(columns.map((c) => c.column_name)).toEqual(['at', 'snippet']);
    expect(await effects()).toEqual([]);
    expect(await ledger()).toEqual([]);
    const events = JSON.parse((await cli(['history', '--json'])).stdout).events;
    expect(events.map((e: { kind: string }) => e.kind)).toEqual(['started', 'refused']);
  });

  it('refuses a snippet that changes the schema and also writes outside touches for the schema change, the graver one', async () => {
    await database.query('create table other (x int)');
    const before = 'await rows(sql`alter table effects add column note text`); await rows(sql`insert into other values (1)`);';
    await repo.write('snippets/0001_first.ts', effectSnippet('0001_first', { before }));
    await writeManifest(repo.dir);
    const result = await cli(['run', '--expect', ...three]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('snippets/0001_first.ts: changed the schema (added column public.effects.note text)');
    expect(await database.query('select * from other')).toEqual([]);
    expect(await ledger()).toEqual([]);
  });

  it('applies a snippet whose catalog writes change no schema (a temp table), and still refuses a later one adding a column', async () => {
    const scratch = 'await rows(sql`create temp table scratch (x int) on commit drop`); await rows(sql`insert into scratch values (1)`);';
    await repo.write('snippets/0001_first.ts', effectSnippet('0001_first', { before: scratch }));
    await repo.write('snippets/0002_second.ts', effectSnippet('0002_second', { dependsOn: ['0001_first'], before: 'await rows(sql`alter table effects add column note text`);' }));
    await writeManifest(repo.dir);
    const result = await cli(['run', '--expect', ...three]);
    expect(result.code).toBe(3);
    expect(result.stdout).toContain('0001_first');
    expect(result.stderr).toContain('snippets/0002_second.ts: changed the schema (added column public.effects.note text); schema changes belong in the service\'s migrations (rolled back)');
    const columns = await database.query<{ column_name: string }>(`select column_name from information_schema.columns where table_name = 'effects' order by 1`);
    expect(columns.map((c) => c.column_name)).toEqual(['at', 'snippet']);
    expect(await effects()).toEqual(['0001_first×1']);
    expect((await ledger()).map((r) => [r.id, r.rows_changed])).toEqual([['0001_first', { 'public.effects': { inserted: 1, updated: 0, deleted: 0 } }]]);
    const events = JSON.parse((await cli(['history', '--json'])).stdout).events;
    expect(events.map((e: { kind: string; snippetId: string }) => `${e.kind} ${e.snippetId}`)).toEqual([
      'started 0001_first',
      'applied 0001_first',
      'started 0002_second',
      'refused 0002_second',
    ]);
  });

  it('keeps the ledgers of two repos sharing one database apart', async () => {
    const other = await createFixtureRepo({ '0001_first.ts': effectSnippet('0001_other') }, defaultConfig().replace("repo: 'fixture'", "repo: 'other'"));
    try {
      await writeManifest(other.dir);
      expect((await runCli(['run'], { cwd: other.dir, env: { DATABASE_URL: database.url } })).code).toBe(0);
      // The other repo's ledger is not this repo's history: the guard still applies here.
      expect((await cli(['run'])).code).toBe(3);
      expect((await cli(['run', '--expect', ...three])).code).toBe(0);
      expect(await effects()).toEqual(['0001_first×1', '0001_other×1', '0002_second×1', '0003_third×1']);
      expect((await database.query<{ repo: string; n: number }>('select repo, count(*)::int as n from snippets.ledger group by 1 order by 1'))).toEqual([
        { repo: 'fixture', n: 3 },
        { repo: 'other', n: 1 },
      ]);
    } finally {
      await other.dispose();
    }
  });

  it('status reads files and the ledger without importing any snippet module', async () => {
    await repo.write('snippets/0004_broken.ts', `throw new Error('this module must not be imported by status');\n`);
    await writeManifest(repo.dir);
    const status = await cli(['status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/0004_broken\s+pending/);
    const plan = await cli(['plan']);
    expect(plan.code).toBe(2);
    expect(plan.stderr).toContain('snippets/0004_broken.ts: the module failed to load (this module must not be imported by status)');
  });

  it('imports only the snippets the ledger has no row for: an applied one is not evaluated again', async () => {
    // Armed by SNIPPETS_TEST_TRAP, importing the module throws: 0001 runs unarmed, then stays applied.
    const trap = `\nif (process.env.SNIPPETS_TEST_TRAP) throw new Error('imported with the trap armed');\n`;
    await repo.write('snippets/0001_first.ts', `${effectSnippet('0001_first')}${trap}`);
    await writeManifest(repo.dir);
    expect((await cli(['run', '--expect', ...three])).code).toBe(0);

    const armed = { SNIPPETS_TEST_TRAP: '1' };
    await repo.write('snippets/0004_fourth.ts', effectSnippet('0004_fourth'));
    await writeManifest(repo.dir);
    const applied = await cli(['run', '--expect', '0004_fourth'], armed);
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);
    expect(await effects()).toEqual(['0001_first×1', '0002_second×1', '0003_third×1', '0004_fourth×1']);

    // A pending snippet is still imported and validated before anything runs.
    await repo.write('snippets/0005_fifth.ts', `${effectSnippet('0005_fifth')}${trap}`);
    await writeManifest(repo.dir);
    const refused = await cli(['run', '--expect', '0005_fifth'], armed);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('snippets/0005_fifth.ts: the module failed to load (imported with the trap armed)');
    expect((await ledger()).map((r) => r.id)).toEqual([...three, '0004_fourth']);
  });
});

describe('the schema check beside another session on postgres', () => {
  let database: TestDatabase;
  let repo: FixtureRepo;
  const cli = (args: string[]) => runCli(args, { cwd: repo.dir, env: { DATABASE_URL: database.url } });

  beforeEach(async () => {
    database = await createTestDatabase('postgres');
    await database.query('create table effects (snippet text not null, at timestamptz not null default now())');
  });

  afterEach(async () => {
    await repo.dispose();
    await database.dispose();
  });

  it('blames a snippet only for its own schema change, not for a migration committed during the run', async () => {
    // 0001 stands in for a service migration deployed mid-run: its own connection commits a table.
    const migration = `const { default: postgres } = await import('postgres');
      const other = postgres(process.env.DATABASE_URL, { max: 1, onnotice: () => {} });
      await other.unsafe('create table unrelated (x int)');
      await other.end();`;
    repo = await createFixtureRepo({
      '0001_first.ts': effectSnippet('0001_first', { before: migration }),
      '0002_second.ts': effectSnippet('0002_second', { dependsOn: ['0001_first'], before: 'await rows(sql`create temp table scratch (x int)`);' }),
      '0003_third.ts': effectSnippet('0003_third', { dependsOn: ['0002_second'], before: 'await rows(sql`alter table effects add column note text`);' }),
    }, defaultConfig(`, outbound: { allow: ['${new URL(database.url).host}'] }`)); // the other session is 0001's own connection
    await writeManifest(repo.dir);
    const result = await cli(['run', '--expect', '0001_first', '0002_second', '0003_third']);
    expect(result.code).toBe(3);
    expect(result.stdout).toContain('another session changed the schema during the run; trying again against the new schema');
    // Compared with the schema the run started from, the message would name public.unrelated too.
    expect(result.stderr).toContain("snippets/0003_third.ts: changed the schema (added column public.effects.note text); schema changes belong in the service's migrations (rolled back)");
    const effects = await database.query<{ snippet: string; n: number }>('select snippet, count(*)::int as n from effects group by 1 order by 1');
    expect(effects).toEqual([{ snippet: '0001_first', n: 1 }, { snippet: '0002_second', n: 1 }]);
    expect((await database.query<{ id: string }>('select id from snippets.ledger order by number')).map((r) => r.id)).toEqual(['0001_first', '0002_second']);
  });
});
