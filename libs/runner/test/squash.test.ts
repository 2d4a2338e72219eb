import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { squashInDir } from '../src/scaffold.ts';
import { runCli } from './support/cli.ts';
import { createTestDatabase, type Driver, type TestDatabase } from './support/databases.ts';
import { createFixtureRepo, effectSnippet, type FixtureRepo } from './support/fixture-repo.ts';

const three = ['0001_first', '0002_second', '0003_third'];
const SQUASH = '0004_squashed_0001_0003';

/** A repo whose three snippets production applied, then folded by the squash the generators share. */
describe.each<Driver>(['postgres', 'pglite'])('a squash on %s', (driver) => {
  let database: TestDatabase;
  let repo: FixtureRepo;
  const cli = (args: string[]) => runCli(args, { cwd: repo.dir, env: { DATABASE_URL: database.url } });
  const effects = async () =>
    (await database.query<{ snippet: string }>('select snippet from effects order by snippet')).map((r) => r.snippet);

  /** Squashes with production's ledger export, as `npx plop squash LEDGER` does in the repo. */
  async function squash(ledgerExport: string): Promise<void> {
    await repo.write('prod-status.json', ledgerExport);
    const output = await squashInDir(repo.dir, { ledgerFile: 'prod-status.json' });
    expect(output.id).toBe(SQUASH);
    expect(Object.values(output.moves)).toContain('snippets/archive/0001_first.ts');
  }

  beforeEach(async () => {
    database = await createTestDatabase(driver);
    await database.query('create table effects (snippet text not null)');
    repo = await createFixtureRepo({
      '0001_first.ts': effectSnippet('0001_first'),
      '0002_second.ts': effectSnippet('0002_second', { dependsOn: ['0001_first'] }),
      '0003_third.ts': effectSnippet('0003_third', { dependsOn: ['0002_second'] }),
    });
    await cli(['manifest']);
    expect((await cli(['run', '--expect', ...three])).code).toBe(0);
    await squash((await cli(['status', '--json'])).stdout);
    // A later snippet written against an id the squash replaced keeps working.
    await repo.write('snippets/0005_fifth.ts', effectSnippet('0005_fifth', { dependsOn: ['0003_third'] }));
    expect((await cli(['manifest'])).code).toBe(0);
  });
  afterEach(async () => {
    await repo.dispose();
    await database.dispose();
  });

  it('counts as applied where everything it replaces ran, and the archived snippets show as squashed', async () => {
    const status = JSON.parse((await cli(['status', '--json'])).stdout);
    expect(status.snippets.map((s: { id: string; state: string }) => `${s.id}:${s.state}`)).toEqual([
      '0001_first:squashed',
      '0002_second:squashed',
      '0003_third:squashed',
      `${SQUASH}:applied`,
      '0005_fifth:pending',
    ]);
    const run = await cli(['run', '--expect', '0005_fifth']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('applied 1 snippet(s)');
    expect(await effects()).toEqual([...three, '0005_fifth']);
  });

  it('is recorded without running anything on a fresh database', async () => {
    const fresh = await createTestDatabase(driver);
    try {
      await fresh.query('create table effects (snippet text not null)');
      const env = { DATABASE_URL: fresh.url };
      const run = await runCli(['run', '--expect', SQUASH, '0005_fifth'], { cwd: repo.dir, env });
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect((await fresh.query<{ snippet: string }>('select snippet from effects')).map((r) => r.snippet)).toEqual(['0005_fifth']);
      const ledger = await fresh.query<{ id: string; status: string }>('select id, status from snippets.ledger order by number');
      expect(ledger).toEqual([
        { id: SQUASH, status: 'squashed' },
        { id: '0005_fifth', status: 'applied' },
      ]);
    } finally {
      await fresh.dispose();
    }
  });

  it('is refused on a database that ran only some of what it replaces', async () => {
    const partial = await createTestDatabase(driver);
    try {
      await partial.query('create table effects (snippet text not null)');
      const env = { DATABASE_URL: partial.url };
      expect((await runCli(['baseline', '--through', '0005_fifth'], { cwd: repo.dir, env })).code).toBe(0);
      await partial.query(`delete from snippets.ledger where id in ('${SQUASH}', '0005_fifth')`);
      // Only the first of the three ran here, with the checksum the squash records for it.
      const squashSource = await readFile(path.join(repo.dir, 'snippets', `${SQUASH}.ts`), 'utf8');
      const firstChecksum = /id: "0001_first", checksum: "([0-9a-f]{64})"/.exec(squashSource)![1];
      await partial.query(`insert into snippets.ledger (repo, id, number, checksum, status) values ('fixture', '0001_first', 1, $1, 'applied')`, [firstChecksum]);
      const run = await runCli(['run', '--expect', SQUASH, '0005_fifth'], { cwd: repo.dir, env });
      expect(run.code).toBe(3);
      expect(run.stderr).toContain(`snippets/${SQUASH}.ts: replaces snippets this database has not all run (0002_second, 0003_third)`);
    } finally {
      await partial.dispose();
    }
  });
});
