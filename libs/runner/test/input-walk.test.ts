import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { childEnv, CLI, runCli } from './support/cli.ts';
import { createTestDatabase, type Driver, type TestDatabase } from './support/databases.ts';
import { createFixtureRepo, type FixtureRepo } from './support/fixture-repo.ts';
import { until } from './support/until.ts';

/**
 * batch({ input }): a batched snippet walks an input's rows, each batch committed with the
 * row offset it reached, so a run killed mid-walk resumes after its last committed batch
 * and applies every row exactly once, also when the rerun has several workers.
 */
const CREDIT = `import { csv, defineSnippet } from '@snippets/runner';

export default defineSnippet({
  description: 'credit the listed accounts',
  touches: ['credits'],
  transaction: 'batched',
  inputs: { accounts: csv({ columns: { account_id: 'uuid', amount: 'integer' }, sensitive: ['account_id'] }) },
  async up({ batch }) {
    await batch({
      input: 'accounts',
      size: 1000,
      maxSize: 2000,
      async process({ rows, sql, records, firstRow }) {
        const numbered = records.map((record, i) => ({ ...record, row_no: firstRow + i }));
        await rows(sql\`insert into credits (account_id, amount, row_no)
          select x.account_id::uuid, x.amount, x.row_no from jsonb_to_recordset(\${JSON.stringify(numbered)}::jsonb) as x(account_id text, amount int, row_no int)\`);
        if (process.env.SLOW_BATCHES) await rows(sql\`select pg_sleep(0.01)\`);
      },
    });
  },
  async verify({ rows, sql, inputs }) {
    const [row] = await rows<{ n: number }>(sql\`select count(*)::int as n from credits\`);
    return { ok: row!.n === inputs.accounts.count, message: row!.n + ' credits for ' + inputs.accounts.count + ' rows' };
  },
});
`;

const accountId = (i: number) => `7c0b3a9e-1d2f-4e5a-8b6c-${String(i).padStart(12, '0')}`;

async function writeAccounts(file: string, rows: number): Promise<void> {
  const out = createWriteStream(file);
  out.write('account_id,amount\n');
  for (let i = 1; i <= rows; i++) {
    if (!out.write(`${accountId(i)},${i % 1000}\n`)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve) => out.end(() => resolve()));
}

describe.each<Driver>(['postgres', 'pglite'])('an input walk on %s', (driver) => {
  let database: TestDatabase;
  let repo: FixtureRepo;
  let data: string;

  beforeEach(async () => {
    database = await createTestDatabase(driver);
    await database.query('create table credits (id bigserial primary key, account_id uuid not null, amount int not null, row_no int not null)');
    repo = await createFixtureRepo({ '0001_credit_accounts.ts': CREDIT });
    data = await mkdtemp(path.join(os.tmpdir(), 'snippets-input-walk-'));
    expect((await runCli(['manifest'], { cwd: repo.dir })).code).toBe(0);
  });

  afterEach(async () => {
    await repo.dispose();
    await database.dispose();
    await rm(data, { recursive: true, force: true });
  });

  const cli = (args: string[]) => runCli(args, { cwd: repo.dir, env: { DATABASE_URL: database.url } });
  const credits = async () =>
    (await database.query<{ n: number; rows: number }>('select count(*)::int as n, count(distinct row_no)::int as rows from credits'))[0]!;

  it('walks every row of the input once, in batches, and records its digest', async () => {
    const file = path.join(data, 'accounts.csv');
    await writeAccounts(file, 5_500);
    expect((await cli(['input', 'add', 'accounts', file])).code).toBe(0);
    const run = await cli(['run', '--input', `accounts=${file}`]);
    expect(run.code, run.stderr).toBe(0);
    expect(await credits()).toEqual({ n: 5_500, rows: 5_500 });
    const [applied] = await database.query<{ detail: { inputs: { accounts: { rows: number } } } }>(`select detail from snippets.events where kind = 'applied'`);
    expect(applied!.detail.inputs.accounts.rows).toBe(5_500);
    expect(run.stdout + run.stderr).not.toContain(accountId(1));
  });

  // PostgreSQL only: the rerun shares the walk between two workers, and PGlite is one connection.
  (driver === 'postgres' ? it : undefined)?.('a run killed with SIGKILL mid-walk over 200,000 rows resumes and applies every row exactly once', async () => {
    const file = path.join(data, 'accounts.csv');
    await writeAccounts(file, 200_000);
    expect((await cli(['input', 'add', 'accounts', file])).code).toBe(0);

    const child = spawn(process.execPath, [CLI, 'run', '--input', `accounts=${file}`], {
      cwd: repo.dir,
      env: childEnv({ NO_COLOR: '1', DATABASE_URL: database.url, SLOW_BATCHES: '1' }),
      stdio: 'ignore',
    });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    await until(async () => ((await credits()).n >= 20_000 ? true : undefined), 120_000, 'batches to commit');
    child.kill('SIGKILL');
    await exited;
    const killed = await credits();
    expect(killed.n).toBeLessThan(200_000);
    expect(killed.n).toBe(killed.rows);

    // The rerun shares the rest of the walk between two workers.
    const rerun = await runCli(['run', '--workers', '2', '--input', `accounts=${file}`], { cwd: repo.dir, env: { DATABASE_URL: database.url } });
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stdout).toMatch(/resuming after \d+ rows/);
    expect(await credits()).toEqual({ n: 200_000, rows: 200_000 });
    const [ledger] = await database.query<{ status: string }>('select status from snippets.ledger');
    expect(ledger!.status).toBe('applied');
  });
});
