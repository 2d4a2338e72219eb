import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { createTestDatabase, schemaExists, type TestDatabase } from './support/databases.ts';
import { createFixtureRepo, defaultConfig, effectSnippet } from './support/fixture-repo.ts';

interface BadInputCase {
  name: string;
  /** Snippet files, replacing the two good ones. */
  files?: Record<string, string>;
  config?: string;
  env?: Record<string, string | undefined>;
  args?: string[];
  skipManifest?: boolean;
  message: string;
}

const good = {
  '0001_first.ts': effectSnippet('0001_first'),
  '0002_second.ts': effectSnippet('0002_second', { dependsOn: ['0001_first'] }),
};
const runArgs = ['run', '--expect', '0001_first', '0002_second'];

const cases: BadInputCase[] = [
  {
    name: 'a file name without four digits',
    files: { ...good, '7_fix.ts': effectSnippet('7_fix') },
    message: 'snippets/7_fix.ts: snippet files are named NNNN_slug.ts (four digits, then lower-case words joined by _), e.g. 0007_backfill_currency.ts; rename it',
  },
  {
    name: 'a file name with capitals and dashes',
    files: { ...good, '0003_Fix-Emails.ts': effectSnippet('0003_Fix-Emails') },
    message: 'snippets/0003_Fix-Emails.ts: snippet files are named NNNN_slug.ts',
  },
  {
    name: 'a duplicate number',
    files: { ...good, '0002_other.ts': effectSnippet('0002_other') },
    message: 'snippets/0002_second.ts: number 0002 is already used by snippets/0002_other.ts; give one of them the next free number',
  },
  {
    name: 'an unknown dependency',
    files: { ...good, '0002_second.ts': effectSnippet('0002_second', { dependsOn: ['0009_missing'] }) },
    message: "snippets/0002_second.ts: dependsOn names '0009_missing', which is not a snippet in this repo; use the id (file stem) of an existing snippet",
  },
  {
    name: 'a dependency cycle',
    files: {
      '0001_first.ts': effectSnippet('0001_first', { dependsOn: ['0002_second'] }),
      '0002_second.ts': effectSnippet('0002_second', { dependsOn: ['0001_first'] }),
    },
    message: 'snippets/0001_first.ts: dependsOn forms a cycle (0001_first -> 0002_second -> 0001_first); remove one of these dependencies',
  },
  {
    name: 'a module without a defineSnippet default export',
    files: { ...good, '0002_second.ts': `export default { description: 'x', touches: [], async up() {} };\n` },
    message: 'snippets/0002_second.ts: has no default export made by defineSnippet(); add `export default defineSnippet({ ... })`',
  },
  {
    name: 'a definition without touches',
    files: {
      ...good,
      '0002_second.ts': `import { defineSnippet } from '@snippets/runner';\nexport default defineSnippet({ description: 'x', async up() {} } as never);\n`,
    },
    message: 'snippets/0002_second.ts: invalid snippet: touches is required',
  },
  {
    name: 'an unknown transaction mode',
    files: { ...good, '0002_second.ts': effectSnippet('0002_second', { transaction: 'nested' }) },
    message: 'snippets/0002_second.ts: invalid snippet: transaction must be "atomic" or "batched"',
  },
  {
    name: 'a migration tag the service does not have',
    files: { ...good, '0002_second.ts': effectSnippet('0002_second', { requires: ['0042_nope'] }) },
    message: 'snippets/0002_second.ts: requires service migrations but snippets.config.ts has no service; add service.migrationsFolder, or service.schemaVersion',
  },
  {
    name: 'a config with a bad repo id',
    config: `import { defineConfig } from '@snippets/runner';\nexport default defineConfig({ repo: 'Payments Snippets' });\n`,
    message: 'snippets.config.ts: repo must be a lower-case id like "payments-snippets"; fix it (see defineConfig in @snippets/runner)',
  },
  {
    name: 'a config with a bad duration',
    config: defaultConfig().replace("statement: '1m'", "statement: 'a while'"),
    message: "snippets.config.ts: timeouts.statement 'a while' is not a duration like 30s, 5m or 1h",
  },
  {
    name: 'a config with an unknown key',
    config: `import { defineConfig } from '@snippets/runner';\nexport default defineConfig({ repo: 'x', snipetsDir: 'snippets' } as never);\n`,
    message: 'snippets.config.ts: snipetsDir is not a known key; fix it (see defineConfig in @snippets/runner)',
  },
  {
    name: 'an unset DATABASE_URL',
    env: { DATABASE_URL: undefined },
    message: 'DATABASE_URL is not set; set DATABASE_URL to postgres://user@host:5432/db, pglite:<dir> or pglite:memory',
  },
  {
    name: 'a DATABASE_URL with another scheme',
    env: { DATABASE_URL: 'mysql://root@127.0.0.1/db' },
    message: "DATABASE_URL has unsupported scheme 'mysql:'",
  },
  {
    name: 'a DATABASE_URL that is not a URL',
    env: { DATABASE_URL: 'postgres://[broken' },
    message: 'DATABASE_URL is not a valid URL',
  },
  {
    name: 'a DATABASE_URL nothing listens on',
    env: { DATABASE_URL: 'postgres://postgres:secret@127.0.0.1:1/nowhere' },
    message: 'DATABASE_URL: cannot connect to postgres://postgres:***@127.0.0.1:1/nowhere',
  },
  {
    name: 'an --expect id that is not a snippet',
    args: ['run', '--expect', '0001_first', '0009_nope'],
    message: '--expect names 0009_nope, not snippets in this repo; pass snippet ids (file stems)',
  },
  {
    name: 'a --through id that is not a snippet',
    args: ['baseline', '--through', '0009_nope'],
    message: "--through '0009_nope' is not a snippet in this repo (known: 0001_first, 0002_second); use a snippet id (file stem)",
  },
  {
    name: 'an unknown option',
    args: ['run', '--force'],
    message: "error: unknown option '--force'",
  },
  {
    name: 'a service with both a migrations folder and a schema file',
    config: defaultConfig(", service: { migrationsFolder: 'drizzle', schemaFile: 'schema.sql' }"),
    message: 'snippets.config.ts: service has both migrationsFolder and schemaFile; keep the one the service builds its schema from',
  },
  {
    name: 'a service with no schema',
    config: defaultConfig(", service: { schemaVersion: 'none' }"),
    message: "snippets.config.ts: service names no schema; add migrationsFolder (drizzle-kit's output) or schemaFile (a SQL file of the whole schema)",
  },
  {
    name: 'a schema file without a schema version',
    config: defaultConfig(", service: { schemaFile: 'schema.sql' }"),
    message: "snippets.config.ts: service has a schemaFile but no schemaVersion; say how its databases record their schema version: { table, column }, or 'none'",
  },
  {
    name: 'a missing snippets.lock',
    skipManifest: true,
    message: 'snippets.lock: not found; run `snippets manifest` and commit it with the snippets',
  },
];

describe('bad input gets one clear line, exit 2, and nothing written', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    await database.query('create table effects (snippet text not null, at timestamptz not null default now())');
  });
  afterAll(() => database.dispose());

  it.each(cases)('$name', async (testCase) => {
    const repo = await createFixtureRepo(testCase.files ?? good, testCase.config);
    try {
      const env = { DATABASE_URL: database.url, ...testCase.env };
      if (!testCase.skipManifest && !testCase.config) await runCli(['manifest'], { cwd: repo.dir, env });
      const result = await runCli(testCase.args ?? runArgs, { cwd: repo.dir, env });
      expect(result.stderr).toContain(testCase.message);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(await schemaExists(database, 'snippets')).toBe(false);
      expect(await database.query('select * from effects')).toEqual([]);
    } finally {
      await repo.dispose();
    }
  });

  it('a missing snippets.config.ts', async () => {
    const repo = await createFixtureRepo(good);
    await repo.remove('snippets.config.ts');
    try {
      const result = await runCli(['status'], { cwd: repo.dir, env: { DATABASE_URL: database.url } });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`snippets.config.ts: not found in ${repo.dir}; run from the snippet repo's root or pass --cwd DIR`);
    } finally {
      await repo.dispose();
    }
  });
});
