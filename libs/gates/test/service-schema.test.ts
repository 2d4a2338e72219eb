import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, createRepo, runGates, scratchDatabasesLeft, snippet, urlOf, type FixtureRepo } from './support/fixtures.ts';

const exec = promisify(execFile);

/** An app's schema applied push-style: quoted mixed-case tables, uuid keys, no drizzle migrations table; another tool's version table. */
const SCHEMA = `
create table "User" (id uuid primary key default gen_random_uuid(), email text not null, "createdAt" timestamptz not null default now());
create table "Message" (id uuid primary key default gen_random_uuid(), "authorId" uuid not null references "User"(id) on delete cascade, "text" text not null);
create table schema_version (version text primary key);
insert into schema_version values ('2024_05_01_init'), ('2024_06_12_messages');
`;
const SEED = `insert into "User" (id, email) select ('00000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid, 'u' || n || '@example.com' from generate_series(1, 20) n;
insert into "Message" ("authorId", "text") select ('00000000-0000-4000-8000-' || lpad((1 + n % 20)::text, 12, '0'))::uuid, 'hello ' || n from generate_series(1, 100) n;`;

const config = (service: string) => `import { defineConfig } from '@snippets/runner';
export default defineConfig({ repo: 'gates-fixture', service: ${service} });
`;

const lowerEmails = snippet({ touches: ['"User"'], up: 'await rows(sql`update "User" set email = upper(email)`);' });

describe('a service whose schema is pushed, not migrated by drizzle', () => {
  let work: string;
  let database: string;
  let dump: string;
  const repos: FixtureRepo[] = [];
  // The template databases a rehearsal on the service's schema builds are this test's own.
  const templates = () => admin(async (sql) => (await sql`select datname from pg_database where datname like 'snippets_template_%'`).map((r) => r.datname as string));
  let templatesBefore: string[] = [];

  async function repoWith(service: string, snippets: Record<string, string> = { '0001_upper.ts': lowerEmails }): Promise<FixtureRepo> {
    const repo = await createRepo(snippets);
    repos.push(repo);
    await repo.write('schema.sql', SCHEMA);
    await repo.write('snippets.config.ts', config(service));
    // The repo's tests leave a mark, so a test can tell whether the slow step ran.
    await repo.write('package.json', JSON.stringify({ name: 'gates-fixture', private: true, type: 'module', scripts: { test: 'node -e "require(\'fs\').writeFileSync(\'tests-ran\', \'\')"' } }));
    return repo;
  }

  beforeAll(async () => {
    templatesBefore = await templates();
    work = await mkdtemp(path.join(os.tmpdir(), 'gates-pushed-'));
    database = `gates_pushed_${process.pid}`;
    await admin((sql) => sql.unsafe(`drop database if exists ${database}`).then(() => sql.unsafe(`create database ${database}`)));
    await exec('psql', ['-q', '-v', 'ON_ERROR_STOP=1', '-d', urlOf(database), '-c', SCHEMA + SEED]);
    dump = path.join(work, 'app.dump');
    await exec('pg_dump', ['-Fc', '-f', dump, urlOf(database)]);
  });
  afterAll(async () => {
    for (const repo of repos) await repo.dispose();
    await admin((sql) => sql.unsafe(`drop database if exists ${database} with (force)`));
    for (const name of (await templates()).filter((t) => !templatesBefore.includes(t))) await admin((sql) => sql.unsafe(`drop database ${name}`));
    await rm(work, { recursive: true, force: true });
    expect(await scratchDatabasesLeft()).toEqual([]);
  });

  it("refuses a dump without drizzle's table at once, before the repo's tests, saying how to configure the service", async () => {
    const repo = await repoWith(`{ migrationsFolder: ${JSON.stringify(path.join(path.dirname(createRequire(import.meta.url).resolve('@snippets/example-service/package.json')), 'drizzle'))} }`);
    const result = await runGates(['check', '--dump', dump], repo.dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `snippet-gates: dump ${dump}: has no drizzle's migrations table drizzle.__drizzle_migrations, so it is not a database of this service; take the dump from the service's database, or, if the service records its schema version elsewhere, set service.schemaVersion in snippets.config.ts ({ table, column } or 'none')\n`,
    );
    expect(existsSync(path.join(repo.dir, 'tests-ran'))).toBe(false);
  });

  it('rehearses on a dump whose version is in another table, after checking the dump has that table', async () => {
    const repo = await repoWith(`{ schemaFile: 'schema.sql', schemaVersion: { table: 'schema_version', column: 'version' } }`);
    const ok = await runGates(['check', '--dump', dump, '--only', 'manifest,graph,rehearsal,schema,touches,undo,duration', '--report-dir', 'reports'], repo.dir);
    expect(ok.stdout).toContain(`✓ rehearsal on dump ${dump}: 1 pending snippet(s) ran and verified`);
    expect(ok.code).toBe(0);
    const report = JSON.parse(await readFile(path.join(repo.dir, 'reports/report.json'), 'utf8'));
    expect(report.rehearsals[0].snippets[0].rowsChanged).toEqual({ 'public.User': { inserted: 0, updated: 20, deleted: 0 } });

    const wrongTable = await repoWith(`{ schemaFile: 'schema.sql', schemaVersion: { table: 'flyway_schema_history', column: 'version' } }`);
    const refused = await runGates(['check', '--dump', dump], wrongTable.dir);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`dump ${dump}: has no public.flyway_schema_history.version, so it is not a database of this service`);
    expect(existsSync(path.join(wrongTable.dir, 'tests-ran'))).toBe(false);
  });

  it("without a dump, builds the service's database from its schema file; 'none' is said explicitly", async () => {
    const repo = await repoWith(`{ schemaFile: 'schema.sql', schemaVersion: 'none' }`);
    const result = await runGates(['check', '--only', 'rehearsal,schema,touches'], repo.dir);
    expect(result.stdout).toContain('✓ rehearsal on service schema file: 1 pending snippet(s) ran and verified');
    expect(result.code).toBe(0);

    const unsaid = await repoWith(`{ schemaFile: 'schema.sql' }`);
    const missing = await runGates(['check', '--only', 'rehearsal'], unsaid.dir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(
      "snippets.config.ts: service has a schemaFile but no schemaVersion; say how its databases record their schema version: { table, column }, or 'none'",
    );
  });

  it("a snippet that requires another tool's version runs where the base has it and is refused where it does not", async () => {
    const requiring = (tag: string) => snippet({ touches: ['"User"'], requires: [tag], up: 'await rows(sql`update "User" set email = lower(email)`);' });
    const repo = await repoWith(`{ schemaFile: 'schema.sql', schemaVersion: { table: 'schema_version', column: 'version' } }`, { '0001_needs.ts': requiring('2024_06_12_messages') });
    const met = await runGates(['check', '--dump', dump, '--only', 'graph,rehearsal'], repo.dir);
    expect(met.code).toBe(0);
    const later = await repoWith(`{ schemaFile: 'schema.sql', schemaVersion: { table: 'schema_version', column: 'version' } }`, { '0001_needs.ts': requiring('2025_01_01_later') });
    const unmet = await runGates(['check', '--dump', dump, '--only', 'graph,rehearsal', '--report-dir', 'reports'], later.dir);
    expect(unmet.code).toBe(1);
    expect(unmet.stdout).toContain('requires service migration 2025_01_01_later, which this database has not applied');
  });
});
