import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { sql } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applySnippetFile, openTestDatabase } from '../src/testing.ts';
import { childEnv, CLI, runCli } from './support/cli.ts';
import { createTestDatabase, type Driver, type TestDatabase } from './support/databases.ts';
import { createFixtureRepo, type FixtureRepo } from './support/fixture-repo.ts';
import { until } from './support/until.ts';

/**
 * A CSV of accounts from Operations drives a snippet against a service schema with a
 * quoted mixed-case table and uuid keys. The file never enters the repo: snippets.lock pins
 * it by digest, and its values appear in no output, report, event or message.
 */
const SCHEMA = `
  create table "Account" (id uuid primary key, email text not null unique, status text not null default 'open', "closeReason" text);
  create table "Notice" (id bigserial primary key, email text not null unique)`;

const accountId = (i: number) => `5e1f0c2a-7b3d-4c8e-9a61-${String(i).padStart(12, '0')}`;
const email = (i: number) => `holder.${i}@private-bank.example`;
const REASON = 'fraud-ring-kestrel';
const ACCOUNTS = 5;

function accountsCsv(rows = ACCOUNTS, change: (i: number, line: string) => string = (_i, line) => line): string {
  const lines = ['account_id,email,reason'];
  for (let i = 1; i <= rows; i++) lines.push(change(i, `${accountId(i)},${email(i)},${REASON}`));
  return `${lines.join('\n')}\n`;
}

/** Every value of the input that must stay out of output: ids, emails, the reason. */
const secrets = (rows = ACCOUNTS) => [REASON, ...Array.from({ length: rows }, (_, i) => [accountId(i + 1), email(i + 1)]).flat()];

const CLOSE_ACCOUNTS = `import { csv, defineSnippet } from '@snippets/runner';

export default defineSnippet({
  description: 'close the accounts Operations listed',
  touches: ['"Account"'],
  inputs: { accounts: csv({ columns: { account_id: 'uuid', email: 'email', reason: 'text' } }) },
  async up({ rows, sql, inputs, log }) {
    for await (const row of inputs.accounts) {
      await rows(sql\`update "Account" set status = 'closed', "closeReason" = \${row.reason} where id = \${row.account_id}\`);
      log.info('closed ' + row.account_id + ' for ' + row.email);
    }
  },
  async verify({ rows, sql, inputs }) {
    const [row] = await rows<{ n: number }>(sql\`select count(*)::int as n from "Account" where status = 'closed'\`);
    return { ok: row!.n === inputs.accounts.count, message: row!.n + ' closed' };
  },
});
`;

/** Sends a notice per account: the second run of it meets the unique email, whose DETAIL quotes the value. */
const NOTIFY = `import { csv, defineSnippet } from '@snippets/runner';

export default defineSnippet({
  description: 'record a notice per listed account',
  touches: ['"Notice"'],
  inputs: { accounts: csv({ columns: { account_id: 'uuid', email: 'email', reason: 'text' } }) },
  async up({ rows, sql, inputs }) {
    for await (const row of inputs.accounts) await rows(sql\`insert into "Notice" (email) values (\${row.email})\`);
  },
});
`;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The runs' local copies in `dir` (the children's TMPDIR, where tsx keeps its cache too). */
const localCopies = async (dir: string) => (await readdir(dir)).filter((name) => name.startsWith('snippets-inputs-'));

describe.each<Driver>(['postgres', 'pglite'])('inputs on %s', (driver) => {
  let database: TestDatabase;
  let repo: FixtureRepo;
  let data: string;
  let tmp: string;

  beforeEach(async () => {
    database = await createTestDatabase(driver);
    await database.query(SCHEMA.split(';')[0]!);
    await database.query(SCHEMA.split(';')[1]!);
    for (let i = 1; i <= ACCOUNTS + 1; i++) await database.query('insert into "Account" (id, email) values ($1, $2)', [accountId(i), email(i)]);
    repo = await createFixtureRepo({ '0001_close_accounts.ts': CLOSE_ACCOUNTS });
    // The data lives outside the repo, as a file from Operations would.
    data = await mkdtemp(path.join(os.tmpdir(), 'snippets-input-data-'));
    tmp = await mkdtemp(path.join(os.tmpdir(), 'snippets-input-tmp-'));
    await writeFile(path.join(data, 'accounts.csv'), accountsCsv());
    expect((await runCli(['manifest'], { cwd: repo.dir })).code).toBe(0);
  });

  afterEach(async () => {
    await repo.dispose();
    await database.dispose();
    await rm(data, { recursive: true, force: true });
    await rm(tmp, { recursive: true, force: true });
  });

  const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { cwd: repo.dir, env: { DATABASE_URL: database.url, TMPDIR: tmp, ...env } });
  const lock = async () => JSON.parse(await readFile(path.join(repo.dir, 'snippets.lock'), 'utf8'));
  const closed = async () => (await database.query<{ n: number }>(`select count(*)::int as n from "Account" where status = 'closed'`))[0]!.n;
  const ledgerRows = async () => (await database.query<{ n: number }>(`select count(*)::int as n from snippets.ledger`).catch(() => [{ n: 0 }]))[0]!.n;

  it('a CSV approved by digest drives an atomic snippet; its values appear in no output, report, event or ledger row', async () => {
    // Declared and not approved: snippets manifest writes the entry as pending, and the plan says so.
    expect((await lock()).inputs).toEqual({ '0001_close_accounts': { accounts: null } });
    expect((await cli(['plan'])).stdout).toContain('reads input accounts: not approved in snippets.lock (snippets input add accounts FILE)');
    const added = await cli(['input', 'add', 'accounts', path.join(data, 'accounts.csv')]);
    expect(added.code, added.stderr).toBe(0);
    const file = accountsCsv();
    const digest = { sha256: sha256(file), rows: ACCOUNTS, bytes: Buffer.byteLength(file) };
    expect((await lock()).inputs['0001_close_accounts'].accounts).toEqual(digest);
    expect((await runCli(['manifest', '--check'], { cwd: repo.dir })).code).toBe(0);
    const plan = JSON.parse((await cli(['plan', '--json'])).stdout);
    expect(plan.pending[0].inputs).toEqual({ accounts: digest });

    const reports = path.join(tmp, 'reports');
    const run = await cli(['run', '--input', `accounts=${path.join(data, 'accounts.csv')}`, '--report-dir', reports]);
    expect(run.code, run.stderr).toBe(0);
    expect(await closed()).toBe(ACCOUNTS);
    // The snippet logged each id and email: masked, the line is still there.
    expect(run.stdout).toContain('closed ‹masked› for ‹masked›');

    const [applied] = await database.query<{ detail: { inputs: unknown } }>(`select detail from snippets.events where kind = 'applied'`);
    expect(applied!.detail.inputs).toEqual({ accounts: digest });

    const events = JSON.stringify(await database.query('select * from snippets.events'));
    const ledger = JSON.stringify(await database.query('select * from snippets.ledger'));
    const reportFiles = await Promise.all((await readdir(reports)).map((f) => readFile(path.join(reports, f), 'utf8')));
    const history = await cli(['history', '--json']);
    const everything = [run.stdout, run.stderr, added.stdout, added.stderr, events, ledger, history.stdout, ...reportFiles].join('\n');
    for (const value of secrets()) expect(everything).not.toContain(value);
    // The local copy went with the run.
    expect(await localCopies(tmp)).toEqual([]);
  });

  it('refuses a changed file, another row count, an unapproved input and a missing location, writing nothing', async () => {
    const file = path.join(data, 'accounts.csv');
    expect((await cli(['input', 'add', 'accounts', file])).code).toBe(0);

    // Same size and rows, one byte different.
    await writeFile(file, accountsCsv(ACCOUNTS, (i, line) => (i === 2 ? line.replace('kestrel', 'kestrem') : line)));
    const changed = await cli(['run', '--input', `accounts=${file}`]);
    expect(changed.code).toBe(3);
    expect(changed.stderr).toMatch(/input accounts of 0001_close_accounts: its sha256 is [0-9a-f]{64}, and snippets.lock approved [0-9a-f]{64}; .*nothing was written/);

    await writeFile(file, accountsCsv(ACCOUNTS + 1));
    const longer = await cli(['run', '--input', `accounts=${file}`]);
    expect(longer.code).toBe(3);
    expect(longer.stderr).toContain('its size is');

    const missing = await cli(['run']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('input accounts of 0001_close_accounts: no location given; pass --input accounts=LOCATION');

    const absent = await cli(['run', '--input', `accounts=${path.join(data, 'nope.csv')}`]);
    expect(absent.code).toBe(2);
    expect(absent.stderr).toContain('nope.csv does not exist');

    // Back to the lock as snippets manifest wrote it: declared, not approved.
    await runCli(['manifest'], { cwd: repo.dir });
    const l = await lock();
    l.inputs['0001_close_accounts'].accounts = null;
    await writeFile(path.join(repo.dir, 'snippets.lock'), JSON.stringify(l));
    const unapproved = await cli(['run', '--input', `accounts=${file}`]);
    expect(unapproved.code).toBe(3);
    expect(unapproved.stderr).toContain('not approved in snippets.lock; run `snippets input add accounts FILE`');
    const check = await runCli(['manifest', '--check'], { cwd: repo.dir });
    expect(check.code).toBe(3);

    expect(await closed()).toBe(0);
    expect(await ledgerRows()).toBe(0);
    for (const result of [changed, longer, missing, unapproved]) for (const value of secrets(ACCOUNTS + 1)) expect(result.stdout + result.stderr).not.toContain(value);
  });

  // What follows reads and reports the same way on either driver: PostgreSQL alone keeps CI short.
  const onPostgres = driver === 'postgres' ? it : undefined;

  onPostgres?.('refuses a malformed row by its number and column, without its value', async () => {
    const file = path.join(data, 'accounts.csv');
    const text = accountsCsv(ACCOUNTS, (i, line) => (i === 3 ? line.replace(accountId(3), 'acct-3-kestrel-private') : line));
    await writeFile(file, text);
    // snippets input add validates before approving.
    const add = await cli(['input', 'add', 'accounts', file]);
    expect(add.code).toBe(2);
    expect(add.stderr).toContain('input accounts of 0001_close_accounts row 3: column account_id is not a uuid');
    expect((await lock()).inputs['0001_close_accounts'].accounts).toBeNull();

    // A lock that approves the bytes anyway: the run validates every row before any write.
    const l = await lock();
    l.inputs['0001_close_accounts'].accounts = { sha256: sha256(text), rows: ACCOUNTS, bytes: Buffer.byteLength(text) };
    await writeFile(path.join(repo.dir, 'snippets.lock'), JSON.stringify(l));
    const run = await cli(['run', '--input', `accounts=${file}`]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('row 3: column account_id is not a uuid');
    expect(run.stderr + run.stdout + add.stderr + add.stdout).not.toContain('acct-3-kestrel-private');
    expect(await closed()).toBe(0);
    expect(await localCopies(tmp)).toEqual([]);
  });

  onPostgres?.("scrubs the values out of PostgreSQL's own errors", async () => {
    await repo.write('snippets/0002_notify.ts', NOTIFY);
    await runCli(['manifest'], { cwd: repo.dir });
    await database.query('insert into "Notice" (email) values ($1)', [email(4)]);
    for (const name of ['0001_close_accounts', '0002_notify']) {
      expect((await cli(['input', 'add', 'accounts', path.join(data, 'accounts.csv'), '--snippet', name])).code).toBe(0);
    }
    const reports = path.join(tmp, 'reports');
    const run = await cli(['run', '--expect', '0001_close_accounts', '0002_notify', '--input', `accounts=${path.join(data, 'accounts.csv')}`, '--report-dir', reports]);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout + run.stderr).toContain('duplicate key value violates unique constraint');
    const events = JSON.stringify(await database.query('select * from snippets.events'));
    const reportFiles = await Promise.all((await readdir(reports)).map((f) => readFile(path.join(reports, f), 'utf8')));
    for (const value of secrets()) expect([run.stdout, run.stderr, events, ...reportFiles].join('\n')).not.toContain(value);

    // A server message that quotes the value itself: shown without it.
    await repo.write('snippets/0002_notify.ts', NOTIFY.replace('insert into "Notice" (email) values (${row.email})', 'select ${row.reason}::int'));
    await runCli(['manifest'], { cwd: repo.dir });
    const cast = await cli(['run', '--input', `accounts=${path.join(data, 'accounts.csv')}`]);
    expect(cast.code, cast.stderr).toBe(1);
    expect(cast.stdout + cast.stderr).toContain('invalid input syntax for type integer: ‹value›');
    for (const value of secrets()) expect(cast.stdout + cast.stderr).not.toContain(value);

    // Another file than the approved one is refused on the record, by digest, never by content.
    await writeFile(path.join(data, 'accounts.csv'), accountsCsv(ACCOUNTS, (i, line) => (i === 1 ? line.replace('kestrel', 'kestrem') : line)));
    const changed = await cli(['run', '--input', `accounts=${path.join(data, 'accounts.csv')}`]);
    expect(changed.code).toBe(3);
    const [refused] = await database.query<{ reason: string; detail: unknown }>(`select reason, detail from snippets.events where kind = 'refused'`);
    expect(refused!.reason).toMatch(/^input accounts of 0002_notify: its sha256 is [0-9a-f]{64}, and snippets.lock approved [0-9a-f]{64}/);
    for (const value of secrets()) expect(JSON.stringify(refused)).not.toContain(value);
  });

  onPostgres?.('removes the local copy when a second SIGTERM ends the run', async () => {
    await repo.write(
      'snippets/0001_close_accounts.ts',
      CLOSE_ACCOUNTS.replace('async up({ rows, sql, inputs, log }) {', `async up({ rows, sql, inputs, log }) {\n    (await import('node:fs')).writeFileSync(${JSON.stringify(path.join(data, 'started'))}, '');\n    await new Promise((resolve) => setTimeout(resolve, 60_000));`),
    );
    await runCli(['manifest'], { cwd: repo.dir });
    expect((await cli(['input', 'add', 'accounts', path.join(data, 'accounts.csv')])).code).toBe(0);
    const child = spawn(process.execPath, [CLI, 'run', '--input', `accounts=${path.join(data, 'accounts.csv')}`], {
      cwd: repo.dir,
      env: childEnv({ NO_COLOR: '1', DATABASE_URL: database.url, TMPDIR: tmp }),
      stdio: 'ignore',
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    await until(async () => ((await readdir(data)).includes('started') ? true : undefined), 60_000, 'the snippet to start');
    const copies = await localCopies(tmp);
    expect(copies).toHaveLength(1);
    expect(await readdir(path.join(tmp, copies[0]!))).toEqual(['0001_close_accounts.accounts.csv']);
    child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 200));
    child.kill('SIGTERM');
    expect(await exited).toBe('SIGTERM');
    expect(await localCopies(tmp)).toEqual([]);
  });
});

describe('an input on an S3-compatible server', () => {
  let server: S3rver;
  let endpoint: string;
  let database: TestDatabase;
  let repo: FixtureRepo;
  let tmp: string;

  beforeEach(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'snippets-input-s3-'));
    server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: path.join(tmp, 's3') });
    endpoint = `http://127.0.0.1:${(await server.run()).port}`;
    const s3 = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    await s3.send(new CreateBucketCommand({ Bucket: 'ops-exports' }));
    await s3.send(new PutObjectCommand({ Bucket: 'ops-exports', Key: 'ops-4411/accounts.csv', Body: accountsCsv() }));
    s3.destroy();
    database = await createTestDatabase('pglite');
    for (const statement of SCHEMA.split(';')) await database.query(statement);
    for (let i = 1; i <= ACCOUNTS; i++) await database.query('insert into "Account" (id, email) values ($1, $2)', [accountId(i), email(i)]);
    repo = await createFixtureRepo({ '0001_close_accounts.ts': CLOSE_ACCOUNTS });
    await writeFile(path.join(tmp, 'reviewed.csv'), accountsCsv());
    expect((await runCli(['manifest'], { cwd: repo.dir })).code).toBe(0);
  });

  afterEach(async () => {
    await server.close();
    await repo.dispose();
    await database.dispose();
    await rm(tmp, { recursive: true, force: true });
  });

  it('is fetched with the credentials the environment gives and applied as the reviewed file', async () => {
    expect((await runCli(['input', 'add', 'accounts', path.join(tmp, 'reviewed.csv')], { cwd: repo.dir })).code).toBe(0);
    const env = { DATABASE_URL: database.url, AWS_ENDPOINT_URL_S3: endpoint, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', SNIPPETS_INPUTS: 'accounts=s3://ops-exports/ops-4411/accounts.csv' };
    // A dry run stops the snippet's own outbound calls; the runner's fetch of its input is not one.
    const dryRun = await runCli(['run', '--dry-run'], { cwd: repo.dir, env });
    expect(dryRun.code, dryRun.stderr).toBe(0);
    const run = await runCli(['run'], { cwd: repo.dir, env });
    expect(run.code, run.stderr).toBe(0);
    const [row] = await database.query<{ n: number }>(`select count(*)::int as n from "Account" where status = 'closed'`);
    expect(row!.n).toBe(ACCOUNTS);
    expect(run.stdout + run.stderr).not.toContain('S3RVER');
  });
});

describe("a snippet's test", () => {
  it('feeds a fixture to its inputs through applySnippetFile, validated, and refuses a missing one', async () => {
    const repo = await createFixtureRepo({ '0001_close_accounts.ts': CLOSE_ACCOUNTS });
    const database = await openTestDatabase({});
    try {
      for (const statement of SCHEMA.split(';')) await database.db.execute(sql.raw(statement));
      for (let i = 1; i <= 3; i++) await database.db.execute(sql`insert into "Account" (id, email) values (${accountId(i)}, ${email(i)})`);
      await repo.write('snippets/fixtures/0001_close_accounts/accounts.csv', accountsCsv(2));
      const file = path.join(repo.dir, 'snippets', '0001_close_accounts.ts');
      const result = await applySnippetFile(database, file, { inputs: { accounts: path.join(repo.dir, 'snippets/fixtures/0001_close_accounts/accounts.csv') } });
      expect(result.rowsChanged).toEqual({ 'public.Account': { inserted: 0, updated: 2, deleted: 0 } });
      await expect(applySnippetFile(database, file)).rejects.toThrow('declares accounts, which the test gives no fixture for');
    } finally {
      await database.close();
      await repo.dispose();
    }
  });
});
