import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli, writeManifest } from './support/cli.ts';
import { createTestDatabase, type Driver, type TestDatabase } from './support/databases.ts';
import { createFixtureRepo, defaultConfig, effectSnippet, type FixtureRepo } from './support/fixture-repo.ts';

/** The service package a snippet ran against is recorded beside the image, on both drivers. */
describe.each<Driver>(['postgres', 'pglite'])('the ledger records the service package on %s', (driver) => {
  let database: TestDatabase;
  let repo: FixtureRepo;
  const cli = (args: string[]) => runCli(args, { cwd: repo.dir, env: { DATABASE_URL: database.url, SNIPPETS_IMAGE: 'ghcr.io/acme/snippets@sha256:abc' } });

  beforeEach(async () => {
    database = await createTestDatabase(driver);
    await database.query('create table effects (snippet text not null, at timestamptz not null default now())');
    // As installed: the config finds the service's schema inside its package, as packageDir does.
    repo = await createFixtureRepo(
      { '0001_first.ts': effectSnippet('0001_first') },
      defaultConfig(`, service: { schemaFile: 'vendor/svc/dist/schema.sql', schemaVersion: 'none' }`),
    );
    await repo.write('vendor/svc/package.json', JSON.stringify({ name: '@acme/svc', version: '1.2.3' }));
    await repo.write('vendor/svc/dist/package.json', JSON.stringify({ type: 'module' })); // no name: not the package
    await repo.write('vendor/svc/dist/schema.sql', 'create table effects (snippet text not null);');
    await writeManifest(repo.dir);
  });

  afterEach(async () => {
    await repo.dispose();
    await database.dispose();
  });

  it('on the applied row and its events, shown by status --json and history', async () => {
    expect((await cli(['run'])).code).toBe(0);
    expect(await database.query('select id, image, service_package, service_version from snippets.ledger')).toEqual([
      { id: '0001_first', image: 'ghcr.io/acme/snippets@sha256:abc', service_package: '@acme/svc', service_version: '1.2.3' },
    ]);
    const status = JSON.parse((await cli(['status', '--json'])).stdout) as { snippets: { row: Record<string, unknown> }[] };
    expect(status.snippets[0]!.row).toMatchObject({ servicePackage: '@acme/svc', serviceVersion: '1.2.3' });
    const history = JSON.parse((await cli(['history', '--json'])).stdout) as { events: Record<string, unknown>[] };
    expect(history.events.map((e) => [e.kind, e.servicePackage, e.serviceVersion])).toEqual([
      ['started', '@acme/svc', '1.2.3'],
      ['applied', '@acme/svc', '1.2.3'],
    ]);
    expect((await cli(['history'])).stdout).toMatch(/applied\s+0001_first\s+.*@acme\/svc@1\.2\.3/);
  });

  it('on a batched snippet\'s row, written apart from the closing statement', async () => {
    await database.query('create table counters (id integer primary key, hits integer not null default 0); insert into counters (id) select generate_series(1, 10)');
    await repo.write(
      'snippets/0002_batched.ts',
      `import { defineSnippet } from '@snippets/runner';
export default defineSnippet({
  description: 'count every counter', transaction: 'batched', touches: ['counters'], dependsOn: ['0001_first'],
  async up({ batch, sql }) {
    await batch({ table: 'counters', where: sql\`hits = 0\`, size: 4, async process({ rows, sql, inBatch }) {
      await rows(sql\`update counters set hits = 1 where \${inBatch(sql\`id\`)}\`);
    } });
  },
});
`,
    );
    await writeManifest(repo.dir);
    const run = await cli(['run', '--expect', '0001_first,0002_batched']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(await database.query('select id, service_package, service_version from snippets.ledger order by id')).toEqual([
      { id: '0001_first', service_package: '@acme/svc', service_version: '1.2.3' },
      { id: '0002_batched', service_package: '@acme/svc', service_version: '1.2.3' },
    ]);
  });

  it('upgrades a v6 ledger: earlier rows keep no service', async () => {
    expect((await cli(['run'])).code).toBe(0);
    await database.query(`alter table snippets.ledger drop column service_package, drop column service_version;
      alter table snippets.events drop column service_package, drop column service_version;
      alter table snippets.checkpoints rename column state to cursor;
      update snippets.meta set value = '6' where key = 'schema_version'`);
    await repo.write('snippets/0002_second.ts', effectSnippet('0002_second', { dependsOn: ['0001_first'] }));
    await writeManifest(repo.dir);
    expect((await cli(['run'])).code).toBe(0);
    expect(await database.query('select id, service_version from snippets.ledger order by id')).toEqual([
      { id: '0001_first', service_version: null },
      { id: '0002_second', service_version: '1.2.3' },
    ]);
    expect(await database.query("select value from snippets.meta where key = 'schema_version'")).toEqual([{ value: '8' }]);
  });
});
