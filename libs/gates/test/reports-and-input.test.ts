import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { XmlDocument, XsdValidator } from 'libxml2-wasm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, childEnv, createRepo, exampleServiceDumps, GATES_CLI, runGates, scratchDatabasesLeft, SERVER_URL, snippet, trackGatesProcess, urlOf, type FixtureRepo } from './support/fixtures.ts';

const good = snippet({
  description: 'backfill settlement currency',
  touches: ['trades'],
  up: 'await rows(sql`update trades t set settlement_currency = d.currency from deals d where d.id = t.deal_id and t.settlement_currency is null`);',
});
const cascade = snippet({
  dependsOn: ['0001_good'],
  touches: ['bank_account_entries'],
  up: 'await rows(sql`delete from bank_account_entries where id in (select entry_id from reconciliation_matches order by id limit 3)`);',
});

describe('snippet-gates reports, bad input and clean-up', () => {
  let work: string;
  let dumps: Awaited<ReturnType<typeof exampleServiceDumps>>;
  let repo: FixtureRepo;

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'gates-'));
    dumps = await exampleServiceDumps(work);
    repo = await createRepo({ '0001_good.ts': good, '0002_cascade.ts': cascade });
  });
  afterAll(async () => {
    await repo.dispose();
    await dumps.dispose();
    await rm(work, { recursive: true, force: true });
  });

  it('writes a junit.xml that a JUnit XML schema accepts and a summary a reviewer can read', async () => {
    const result = await runGates(['check', '--dump', dumps.custom, '--only', 'manifest,graph,rehearsal,schema,touches,undo,duration', '--report-dir', 'reports'], repo.dir);
    expect(result.code).toBe(1);

    const xml = await readFile(path.join(repo.dir, 'reports/junit.xml'), 'utf8');
    const schema = XmlDocument.fromString(await readFile(new URL('./junit.xsd', import.meta.url), 'utf8'));
    const document = XmlDocument.fromString(xml);
    const validator = XsdValidator.fromDoc(schema);
    expect(() => validator.validate(document)).not.toThrow();
    validator.dispose();
    document.dispose();
    schema.dispose();
    expect(xml).toMatch(/<testsuite name="touches" timestamp="[^"]+" tests="1" failures="1"/);
    expect(xml).toMatch(/<failure message="a snippet changed a table it did not declare" type="touches"/);

    const summary = await readFile(path.join(repo.dir, 'reports/summary.md'), 'utf8');
    expect(summary).toContain('## Snippet gates: ❌ failed (gates-fixture)');
    expect(summary).toContain('| touches | dump ' );
    expect(summary).toMatch(/\| 0001_good \| applied \| \d+ ms \| public\.trades \| 0 \| \d+ \| 0 \|/);
    expect(summary).toMatch(/\| 0002_cascade \| failed \(touches\) \|\s+\| public\.bank_account_entries \| 0 \| 0 \| 3 \|\n\|\s+\|\s+\|\s+\| public\.reconciliation_matches \| 0 \| 0 \| 3 \|/);
  });

  it.each([
    [['check', '--dump', '/nonexistent/prod.dump'], '--dump /nonexistent/prod.dump: no such file or directory'],
    [['check', '--only', 'rehearsal,speed'], '--only speed: not a gate; use some of manifest, graph, tests, rehearsal, schema, touches, undo, duration'],
    [['check', '--budget', 'soon'], "--budget 'soon' is not a duration like 30s or 5m"],
    [['check', '--frobnicate'], "error: unknown option '--frobnicate'"],
  ])('%j is bad input: one line, exit 2', async (args, message) => {
    const result = await runGates(args, repo.dir);
    expect(result.stderr).toContain(message);
    expect(result.code).toBe(2);
  });

  it('refuses a file that is not a dump, and a truncated dump, with exit 2', async () => {
    const notADump = path.join(work, 'notes.txt');
    await writeFile(notADump, 'hello\n');
    const text = await runGates(['check', '--dump', notADump], repo.dir);
    expect(text.stderr).toContain(`--dump ${notADump}: not a pg_dump file (custom, directory or plain format); make it with pg_dump`);
    expect(text.code).toBe(2);

    const truncated = path.join(work, 'truncated.dump');
    await writeFile(truncated, (await readFile(dumps.custom)).subarray(0, 2048));
    const cut = await runGates(['check', '--dump', truncated, '--only', 'rehearsal'], repo.dir);
    expect(cut.stderr).toMatch(new RegExp(`--dump ${truncated}: pg_restore could not read it \\(.+\\); check the file is a complete dump`));
    expect(cut.code).toBe(2);
    expect(await scratchDatabasesLeft()).toEqual([]);
  });

  it('refuses a dump taken at a schema version the service does not know', async () => {
    const client = postgres(urlOf(dumps.database), { max: 1, onnotice: () => {} });
    const newer = path.join(work, 'newer.dump');
    try {
      await client`insert into drizzle.__drizzle_migrations (hash, created_at) values (${'f'.repeat(64)}, 1)`;
      const { execFile } = await import('node:child_process');
      await new Promise((resolve, reject) => execFile('pg_dump', ['-Fc', '-f', newer, urlOf(dumps.database)], (e) => (e ? reject(e) : resolve(null))));
    } finally {
      await client`delete from drizzle.__drizzle_migrations where hash = ${'f'.repeat(64)}`;
      await client.end();
    }
    const result = await runGates(['check', '--dump', newer, '--only', 'rehearsal'], repo.dir);
    expect(result.stderr).toContain(`dump ${newer}: was taken at a schema version this service does not know (1 unknown migration, e.g. ffffffffffff); take a dump from a database at this service's version`);
    expect(result.code).toBe(2);
    expect(await scratchDatabasesLeft()).toEqual([]);
  });

  it('drops its scratch database when interrupted mid-rehearsal', async () => {
    const slowRepo = await createRepo({ '0001_slow.ts': snippet({ touches: ['trades'], up: 'await rows(sql`select pg_sleep(60)`);' }) });
    try {
      const env = childEnv({ DATABASE_URL: SERVER_URL, NO_COLOR: '1' });
      const child = spawn(process.execPath, [GATES_CLI, 'check', '--dump', dumps.custom, '--only', 'rehearsal'], { cwd: slowRepo.dir, env, stdio: 'ignore' });
      trackGatesProcess(child.pid);
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      const deadline = Date.now() + 60_000;
      while (!(await admin(async (sql) => (await sql`select 1 from pg_stat_activity where query like '%pg_sleep(60)%' and pid <> pg_backend_pid()`).length > 0))) {
        if (Date.now() > deadline) throw new Error('the rehearsal never reached the slow snippet');
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(await scratchDatabasesLeft()).toHaveLength(1);
      child.kill('SIGTERM');
      await exited;
      expect(await scratchDatabasesLeft()).toEqual([]);
    } finally {
      await slowRepo.dispose();
    }
  });
});
