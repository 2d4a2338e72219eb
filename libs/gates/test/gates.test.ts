import { readFile } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { createRepo, exampleServiceDumps, runGates, scratchDatabasesLeft, snippet, SNIPPETS_CLI, type FixtureRepo } from './support/fixtures.ts';

interface Report {
  passed: boolean;
  gates: { gate: string; status: string; summary: string; details: string[]; notChecked: string[]; base?: string }[];
  rehearsals: { snippets: { id: string; outcome: string; message?: string; rowsChanged: Record<string, { inserted: number; updated: number; deleted: number }> }[] }[];
}

const backfill = snippet({
  description: 'backfill settlement currency',
  touches: ['trades'],
  up: 'await rows(sql`update trades t set settlement_currency = d.currency from deals d where d.id = t.deal_id and t.settlement_currency is null`);',
  verify: 'const [r] = await rows(sql`select count(*)::int as n from trades where settlement_currency is null`); return r.n === 0;',
});

describe('snippet-gates check on a dump of the example service', () => {
  let work: string;
  let dumps: Awaited<ReturnType<typeof exampleServiceDumps>>;
  const repos: FixtureRepo[] = [];

  async function check(snippets: Record<string, string>, gates: string, extra: string[] = []): Promise<{ code: number; report: Report; repo: FixtureRepo; stdout: string }> {
    const repo = await createRepo(snippets);
    repos.push(repo);
    const reportDir = path.join(repo.dir, 'reports');
    const result = await runGates(['check', '--dump', dumps.custom, '--only', gates, '--report-dir', reportDir, ...extra], repo.dir);
    expect(result.stderr).toBe('');
    const report = JSON.parse(await readFile(path.join(reportDir, 'report.json'), 'utf8')) as Report;
    return { code: result.code, report, repo, stdout: result.stdout };
  }
  const gate = (report: Report, name: string) => report.gates.find((g) => g.gate === name)!;

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'gates-'));
    dumps = await exampleServiceDumps(work);
  });
  afterAll(async () => {
    for (const repo of repos) await repo.dispose();
    await dumps.dispose();
    await rm(work, { recursive: true, force: true });
    expect(await scratchDatabasesLeft()).toEqual([]);
  });

  it('passes a good snippet through every rehearsal gate, with exact row counts', async () => {
    const { code, report } = await check({ '0001_backfill.ts': backfill }, 'rehearsal,schema,touches,undo,duration');
    expect(report.gates.map((g) => `${g.gate}:${g.status}`)).toEqual(['rehearsal:passed', 'schema:passed', 'touches:passed', 'undo:passed', 'duration:passed']);
    expect(code).toBe(0);
    const [rehearsal] = report.rehearsals;
    const nulls = rehearsal!.snippets[0]!.rowsChanged['public.trades']!.updated;
    expect(nulls).toBeGreaterThan(300);
    expect(rehearsal!.snippets[0]!.rowsChanged).toEqual({ 'public.trades': { inserted: 0, updated: nulls, deleted: 0 } });
    expect(gate(report, 'undo').details).toEqual(['irreversible (no down): 0001_backfill']);
    expect(await scratchDatabasesLeft()).toEqual([]);
  });

  it('rehearses a snippet with an input from the location SNIPPETS_INPUTS gives, and refuses to guess one', async () => {
    const settle = `import { csv, defineSnippet } from '@snippets/runner';
export default defineSnippet({
  description: 'settle the trades the desk listed',
  touches: ['trades'],
  inputs: { trades: csv({ columns: { trade_id: 'integer', status: 'text' } }) },
  async up({ rows, sql, inputs }) {
    for await (const trade of inputs.trades) await rows(sql\`update trades set status = \${trade.status} where id = \${trade.trade_id}\`);
  },
});
`;
    const repo = await createRepo({ '0001_settle.ts': settle });
    repos.push(repo);
    const file = path.join(repo.dir, '..', `${path.basename(repo.dir)}-trades.csv`);
    await writeFile(file, 'trade_id,status\n1,settled-by-desk\n2,settled-by-desk\n');
    try {
      await promisify(execFile)(process.execPath, [SNIPPETS_CLI, 'input', 'add', 'trades', file], { cwd: repo.dir });
      const reportDir = path.join(repo.dir, 'reports');
      const args = ['check', '--dump', dumps.custom, '--only', 'rehearsal,touches,undo', '--report-dir', reportDir];
      const given = await runGates(args, repo.dir, { SNIPPETS_INPUTS: `trades=${file}` });
      expect(given.stderr).toBe('');
      expect(given.code).toBe(0);
      const report = JSON.parse(await readFile(path.join(reportDir, 'report.json'), 'utf8')) as Report;
      expect(report.rehearsals[0]!.snippets[0]!.rowsChanged).toEqual({ 'public.trades': { inserted: 0, updated: 2, deleted: 0 } });
      expect(given.stdout).not.toContain('settled-by-desk');

      const missing = await runGates(args, repo.dir);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain('input trades of 0001_settle: no location given');
    } finally {
      await rm(file, { force: true });
    }
  });

  it('rehearsal: fails a snippet whose verify fails', async () => {
    const failing = snippet({ touches: ['trades'], up: 'await rows(sql`update trades set status = ${"settled"} where id = 1`);', verify: 'return { ok: false, message: "totals do not match" };' });
    const { code, report } = await check({ '0001_failing.ts': failing }, 'rehearsal');
    expect(code).toBe(1);
    expect(gate(report, 'rehearsal')).toMatchObject({ status: 'failed', details: ['0001_failing: verify failed: totals do not match; the transaction was rolled back'] });
  });

  it('schema: fails a snippet that alters a table, listing the change', async () => {
    const ddl = snippet({ touches: ['trades'], up: 'await rows(sql`alter table trades add column note text`);' });
    const { code, report } = await check({ '0001_ddl.ts': ddl }, 'schema');
    expect(code).toBe(1);
    expect(gate(report, 'schema').status).toBe('failed');
    expect(gate(report, 'schema').details[0]).toContain('changed the schema (added column public.trades.note text)');
  });

  it('touches: fails a delete whose cascade reaches an undeclared table, naming it with counts', async () => {
    const cascade = snippet({
      touches: ['bank_account_entries'],
      up: 'await rows(sql`delete from bank_account_entries where id in (select entry_id from reconciliation_matches order by id limit 5)`);',
    });
    const { code, report } = await check({ '0001_cascade.ts': cascade }, 'touches');
    expect(code).toBe(1);
    expect(gate(report, 'touches').details).toEqual([
      expect.stringMatching(/^0001_cascade: touches public\.bank_account_entries but changed public\.bank_account_entries \+0 ~0 -5, public\.reconciliation_matches \+0 ~0 -\d+$/),
    ]);
  });

  it('undo: passes a down that restores the rows and fails one that does not', async () => {
    const reversible = snippet({
      touches: ['users'],
      up: 'await rows(sql`update users set name = name || ${" (archived)"} where id <= 10`);',
      down: 'await rows(sql`update users set name = left(name, length(name) - 11) where id <= 10`);',
    });
    const lossy = snippet({
      dependsOn: ['0001_reversible'],
      touches: ['users'],
      up: 'await rows(sql`update users set email = lower(email)`);',
      down: 'await rows(sql`update users set email = upper(email) where id <= 3`);',
    });
    const { code, report } = await check({ '0001_reversible.ts': reversible, '0002_lossy.ts': lossy }, 'undo');
    expect(code).toBe(1);
    expect(gate(report, 'undo').details).toEqual(['0002_lossy: down did not restore public.users']);
  });

  it("rehearsal: fails a snippet whose code opens its own database connection, naming the snippet and the fix", async () => {
    // Service code with a client of its own: stopped before its query, even though it swallows the error.
    const escaping = snippet({
      touches: ['trades'],
      up: "const { default: postgres } = await import('postgres'); const own = postgres('postgres://postgres@127.0.0.1:5432/postgres', { max: 1, onnotice: () => {} }); try { await own`select 1`; } catch {} finally { await own.end({ timeout: 1 }); }",
    });
    const { code, report } = await check({ '0001_escaping.ts': escaping }, 'rehearsal');
    expect(code).toBe(1);
    expect(gate(report, 'rehearsal').status).toBe('failed');
    expect(gate(report, 'rehearsal').details).toEqual([
      "0001_escaping: up opened a database connection to 127.0.0.1:5432 that is not the snippet's db; it was stopped before sending its query; pass the snippet's db to the code that queried it, or wrap the service's module-level handle with snippetAware() from @snippets/service-handle (a database the snippet must read goes in outbound.allow of snippets.config.ts); the transaction was rolled back",
    ]);
  });

  it('duration: fails a snippet over the budget and suggests the batched mode', async () => {
    const slow = snippet({ touches: ['trades'], up: 'await rows(sql`select pg_sleep(0.3)`);' });
    const { code, report } = await check({ '0001_slow.ts': slow }, 'duration', ['--budget', '100ms']);
    expect(code).toBe(1);
    expect(gate(report, 'duration').details[0]).toMatch(/^0001_slow: took \d+ ms, over the 100 ms budget; split it with transaction: 'batched'$/);
  });

  it('no gate is green for a snippet that never ran: a touches failure stops the run before an ALTER', async () => {
    const cascade = snippet({
      dependsOn: ['0001_backfill'],
      touches: ['bank_account_entries'],
      up: 'await rows(sql`delete from bank_account_entries where id in (select entry_id from reconciliation_matches order by id limit 5)`);',
    });
    const alter = snippet({ dependsOn: ['0002_cascade'], touches: ['trades'], up: 'await rows(sql`alter table trades add column note text`);' });
    const { code, report, repo } = await check({ '0001_backfill.ts': backfill, '0002_cascade.ts': cascade, '0003_alter.ts': alter }, 'rehearsal,schema,touches,undo,duration');
    expect(code).toBe(1);
    expect(report.passed).toBe(false);
    expect(report.rehearsals[0]!.snippets.map((s) => `${s.id}:${s.outcome}`)).toEqual(['0001_backfill:applied', '0002_cascade:failed', '0003_alter:not-run']);
    expect(gate(report, 'rehearsal')).toMatchObject({ status: 'failed', summary: '1 of 3 pending snippet(s) ran and verified' });
    expect(gate(report, 'rehearsal').details).toContain('0003_alter: not run: 0002_cascade failed before it');
    // The ALTER never ran, so the schema gate cannot vouch for it.
    expect(gate(report, 'schema')).toMatchObject({ status: 'not-checked', notChecked: ['0002_cascade: failed in touches, rolled back', '0003_alter: not run: 0002_cascade failed before it'] });
    expect(gate(report, 'touches').status).toBe('failed');
    expect(gate(report, 'touches').notChecked).toEqual(['0003_alter: not run: 0002_cascade failed before it']);
    expect(gate(report, 'duration')).toMatchObject({ status: 'not-checked' });
    const summary = await readFile(path.join(repo.dir, 'reports/summary.md'), 'utf8');
    expect(summary).toContain('1 of 3 pending snippet(s) ran and verified.');
    expect(summary).toMatch(/\| schema \| dump .* \| ⚠️ not checked \|/);
    expect(summary).toContain('| 0003_alter | not-run: 0002_cascade failed before it |');
    const junit = await readFile(path.join(repo.dir, 'reports/junit.xml'), 'utf8');
    expect(junit).toMatch(/<testcase[^>]*name="schema on dump [^"]*"[^>]*>\s*<failure[^>]*type="not-checked"/);
  });

  it('a schema refusal mid-run: the snippets before it are reported applied, the refused one and the rest not', async () => {
    const alter = snippet({ dependsOn: ['0001_backfill'], touches: ['trades'], up: 'await rows(sql`alter table trades add column note text`);' });
    const after = snippet({ dependsOn: ['0002_alter'], touches: ['users'], up: 'await rows(sql`update users set name = name where id = 1`);' });
    const { code, report } = await check({ '0001_backfill.ts': backfill, '0002_alter.ts': alter, '0003_after.ts': after }, 'rehearsal,schema,touches');
    expect(code).toBe(1);
    expect(report.rehearsals[0]!.snippets.map((s) => `${s.id}:${s.outcome}`)).toEqual(['0001_backfill:applied', '0002_alter:refused', '0003_after:not-run']);
    expect(gate(report, 'schema').status).toBe('failed');
    expect(gate(report, 'schema').details[0]).toContain('changed the schema (added column public.trades.note text)');
    expect(gate(report, 'schema').notChecked).toEqual(['0003_after: not run: the run stopped at 0002_alter (refused)']);
    expect(gate(report, 'rehearsal').summary).toBe('1 of 3 pending snippet(s) ran and verified');
    expect(gate(report, 'touches')).toMatchObject({ status: 'not-checked', notChecked: ['0002_alter: refused, rolled back', '0003_after: not run: the run stopped at 0002_alter (refused)'] });
  });

  it('manifest and graph: fail a stale snippets.lock, parallel leaves and an unknown migration', async () => {
    const repo = await createRepo({
      '0001_backfill.ts': backfill,
      '0002_a.ts': snippet({ dependsOn: ['0001_backfill'], touches: ['users'], up: '' }),
      '0003_b.ts': snippet({ dependsOn: ['0001_backfill'], touches: ['users'], up: '', requires: ['0042_nope'] }),
    });
    repos.push(repo);
    await repo.write('snippets/0002_a.ts', snippet({ dependsOn: ['0001_backfill'], touches: ['users'], up: '/* edited */' }));
    const result = await runGates(['check', '--only', 'manifest,graph', '--report-dir', 'out'], repo.dir);
    expect(result.code).toBe(1);
    const report = JSON.parse(await readFile(path.join(repo.dir, 'out/report.json'), 'utf8')) as Report;
    expect(gate(report, 'manifest').details).toEqual(['0002_a: checksum differs']);
    expect(gate(report, 'graph').details).toEqual([
      'parallel leaves 0002_a, 0003_b: two branches each added a snippet; make the later one depend on the other',
      '0003_b: requires migration 0042_nope, which the service does not have',
    ]);
  });

  it('rehearsal: fails, without running anything, when the snippets do not load', async () => {
    const { code, report } = await check({ '0001_broken.ts': 'export default {};\n' }, 'rehearsal');
    expect(code).toBe(1);
    expect(gate(report, 'rehearsal').details).toEqual([
      'snippets/0001_broken.ts: has no default export made by defineSnippet(); add `export default defineSnippet({ ... })`',
    ]);
  });

  it('manifest, graph and tests pass on a healthy repo; tests fail without a test file', async () => {
    const repo = await createRepo({ '0001_backfill.ts': backfill });
    repos.push(repo);
    await repo.write(
      'snippets/0001_backfill.test.ts',
      `import { applySnippetFile, openServiceTestDatabase } from '@snippets/runner/testing';
import { expect, it } from 'vitest';
it('backfills', async () => {
  const database = await openServiceTestDatabase(new URL('..', import.meta.url));
  try {
    expect((await applySnippetFile(database, new URL('./0001_backfill.ts', import.meta.url))).verify).toEqual({ ok: true });
  } finally {
    await database.close();
  }
});
`,
    );
    const healthy = await runGates(['check', '--only', 'manifest,graph,tests'], repo.dir);
    expect(healthy.stdout).toContain('✓ tests: every snippet has a test and the tests pass');
    expect(healthy.code).toBe(0);

    await repo.remove('snippets/0001_backfill.test.ts');
    const untested = await runGates(['check', '--only', 'tests'], repo.dir);
    expect(untested.code).toBe(1);
    expect(untested.stdout).toContain('0001_backfill: has no 0001_backfill.test.ts beside it');
  });

  it('restores plain and directory dumps too, and rehearses on each dump given', async () => {
    const repo = await createRepo({ '0001_backfill.ts': backfill });
    repos.push(repo);
    const result = await runGates(['check', '--only', 'rehearsal', '--dump', dumps.plain, '--dump', dumps.directory, '--report-dir', 'out'], repo.dir);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const report = JSON.parse(await readFile(path.join(repo.dir, 'out/report.json'), 'utf8')) as Report;
    expect(report.gates.map((g) => g.base)).toEqual([`dump ${dumps.plain}`, `dump ${dumps.directory}`]);
  });

  it('clones a template database instead of restoring', async () => {
    const repo = await createRepo({ '0001_backfill.ts': backfill });
    repos.push(repo);
    const result = await runGates(['check', '--only', 'rehearsal,schema', '--template-db', dumps.database], repo.dir);
    expect(result.stdout).toContain(`✓ rehearsal on template ${dumps.database}`);
    expect(result.code).toBe(0);
  });
});
