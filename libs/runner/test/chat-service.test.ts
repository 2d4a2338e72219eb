import { readFile } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { seed } from '@snippets/example-chat-service';
import { schemaFile } from '@snippets/example-chat-service/schema-file';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli, writeManifest } from './support/cli.ts';
import { createTestDatabase, type Driver, type TestDatabase } from './support/databases.ts';
import { createFixtureRepo, type FixtureRepo } from './support/fixture-repo.ts';

/** The repo of a service whose schema is pushed from SQL: no migrations table, the version said to be none. */
const CONFIG = `import path from 'node:path';
import { defineConfig, packageDir } from '@snippets/runner';
export default defineConfig({
  repo: 'chat',
  service: { schemaFile: path.join(packageDir('@snippets/example-chat-service', import.meta.url), 'schema.sql'), schemaVersion: 'none' },
});
`;

const chatSnippet = (fields: string) => `import { defineSnippet } from '@snippets/runner';
import { and, count, eq, isNull, sql as drizzleSql } from 'drizzle-orm';
import { message, thread, user } from '@snippets/example-chat-service/schema';

export default defineSnippet({
${fields}
});
`;

// Users without preferences (every fourth of the seed's 50) get the default.
const darkTheme = chatSnippet(`  description: 'give users without preferences the default ones',
  touches: [user],
  async up({ db }) {
    await db.update(user).set({ preferences: { theme: 'dark', locale: 'en-GB' } }).where(isNull(user.preferences));
  },
  async verify({ db }) {
    const [left] = await db.select({ n: count() }).from(user).where(isNull(user.preferences));
    return { ok: left!.n === 0, message: left!.n + ' users still have no preferences' };
  },`);

// A message with a uuid key the database makes; its down removes exactly it.
const welcome = chatSnippet(`  description: 'post a welcome message in the oldest thread',
  dependsOn: ['0001_dark_theme'],
  touches: ['"Message"'],
  async up({ rows, sql }) {
    await rows(sql\`insert into "Message" ("threadId", "authorId", "text") select t.id, t."createdById", 'Posted by snippet 0002' from "Thread" t order by t."createdAt", t.id limit 1\`);
  },
  async down({ db }) {
    await db.delete(message).where(eq(message.text, 'Posted by snippet 0002'));
  },`);

// The newest thread goes, and its messages with it through ON DELETE CASCADE.
const dropThread = (touches: string) =>
  chatSnippet(`  description: 'delete the newest thread',
  dependsOn: ['0002_welcome'],
  touches: [${touches}],
  async up({ db }) {
    await db.delete(thread).where(eq(thread.id, drizzleSql\`(select id from "Thread" order by "createdAt" desc, id limit 1)\`));
  },`);

async function seedChat(database: TestDatabase): Promise<void> {
  await database.query(await readFile(schemaFile, 'utf8'));
  if (database.driver === 'postgres') {
    const client = postgres(database.url, { max: 1, onnotice: () => {} });
    await seed(drizzlePostgres({ client }) as never).finally(() => client.end());
  } else {
    const client = await PGlite.create(database.url.slice('pglite:'.length));
    await seed(drizzlePglite({ client }) as never).finally(() => client.close());
  }
}

/** The runner's behaviour on the second example service: quoted mixed-case tables, uuid keys, a schema pushed from SQL. */
describe.each<Driver>(['postgres', 'pglite'])('snippets run on the chat service on %s', (driver) => {
  let database: TestDatabase;
  let repo: FixtureRepo;
  const cli = (args: string[]) => runCli(args, { cwd: repo.dir, env: { DATABASE_URL: database.url } });
  const one = async <T>(text: string) => (await database.query<{ n: T }>(text))[0]!.n;

  beforeEach(async () => {
    database = await createTestDatabase(driver);
    await seedChat(database);
    repo = await createFixtureRepo({ '0001_dark_theme.ts': darkTheme, '0002_welcome.ts': welcome, '0003_drop_thread.ts': dropThread('thread, message') }, CONFIG);
    await writeManifest(repo.dir);
  });
  afterEach(async () => {
    await repo.dispose();
    await database.dispose();
  });

  it('applies each snippet once, in order, recording rows changed under the tables\' real names; a second run does nothing', async () => {
    const without = await one<number>('select count(*)::int as n from "User" where preferences is null');
    const newest = await one<number>(`select count(*)::int as n from "Message" where "threadId" = (select id from "Thread" order by "createdAt" desc, id limit 1)`);
    expect(without).toBe(12);
    expect(newest).toBeGreaterThan(0);

    const first = await cli(['run', '--expect', '0001_dark_theme,0002_welcome,0003_drop_thread']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`✓ 0001_dark_theme  User ~12 `);
    expect(first.stdout).toContain(`✓ 0002_welcome  Message +1 `);
    expect(first.stdout).toContain(`✓ 0003_drop_thread  Message -${newest}, Thread -1 `);
    const ledger = await database.query<{ id: string; rows_changed: unknown }>('select id, rows_changed from snippets.ledger order by number');
    expect(ledger).toEqual([
      { id: '0001_dark_theme', rows_changed: { 'public.User': { inserted: 0, updated: without, deleted: 0 } } },
      { id: '0002_welcome', rows_changed: { 'public.Message': { inserted: 1, updated: 0, deleted: 0 } } },
      { id: '0003_drop_thread', rows_changed: { 'public.Thread': { inserted: 0, updated: 0, deleted: 1 }, 'public.Message': { inserted: 0, updated: 0, deleted: newest } } },
    ]);
    expect(await one<number>('select count(*)::int as n from "User" where preferences is null')).toBe(0);
    expect((await cli(['run'])).stdout).toContain('nothing to run');
  });

  it('rolls back a delete whose cascade reaches a table not in touches, naming it as touches must spell it', async () => {
    await repo.write('snippets/0003_drop_thread.ts', dropThread('thread'));
    await writeManifest(repo.dir);
    const threads = await one<number>('select count(*)::int as n from "Thread"');
    const result = await cli(['run', '--expect', '0001_dark_theme,0002_welcome,0003_drop_thread']);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/✗ 0003_drop_thread: .*public\."Message"/);
    expect(await one<number>('select count(*)::int as n from "Thread"')).toBe(threads);
    expect((await database.query<{ id: string }>('select id from snippets.ledger order by number')).map((r) => r.id)).toEqual(['0001_dark_theme', '0002_welcome']);
  });

  it('reverts a snippet through its down on the quoted table, and a dry run leaves nothing behind', async () => {
    const dry = await cli(['run', '--dry-run', '--expect', '0001_dark_theme,0002_welcome,0003_drop_thread']);
    expect(dry.code).toBe(0);
    expect(await one<number>('select count(*)::int as n from "User" where preferences is null')).toBe(12);
    expect(await one<number>(`select count(*)::int as n from "Message" where "text" = 'Posted by snippet 0002'`)).toBe(0);

    // 0002 is the last snippet here: a snippet others depend on is not reverted.
    await repo.remove('snippets/0003_drop_thread.ts');
    await writeManifest(repo.dir);
    expect((await cli(['run', '--expect', '0001_dark_theme,0002_welcome'])).code).toBe(0);
    expect(await one<number>(`select count(*)::int as n from "Message" where "text" = 'Posted by snippet 0002'`)).toBe(1);
    const reverted = await cli(['revert', '0002_welcome', '--reason', 'posted in the wrong thread']);
    expect(reverted.stderr).toBe('');
    expect(reverted.code).toBe(0);
    expect(await one<number>(`select count(*)::int as n from "Message" where "text" = 'Posted by snippet 0002'`)).toBe(0);
    const status = JSON.parse((await cli(['status', '--json'])).stdout) as { snippets: { id: string; state: string }[] };
    expect(status.snippets.map((s) => `${s.id}:${s.state}`)).toEqual(['0001_dark_theme:applied', '0002_welcome:reverted']);
  });
});
