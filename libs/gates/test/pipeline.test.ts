import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childEnv, createRepo, exampleServiceDumps, runGates, SERVER_URL, SNIPPETS_CLI, snippet, urlOf, type FixtureRepo } from './support/fixtures.ts';

const exec = promisify(execFile);

// Secrets the pipeline is given; none may show up in any output, report, ledger row or message body.
const DB_PASSWORD = 'db-pw-9f3a1c';
const SLACK_SECRET = 'T0001/B0001/slack-secret-77e1';
const WEBHOOK_TOKEN = 'hook-token-4b2d8e';

const withPassword = (url: string) => Object.assign(new URL(url), { password: DB_PASSWORD }).toString();

interface Received {
  path: string;
  authorization?: string;
  body: Record<string, unknown>;
}

/** A webhook receiver on loopback: Slack's path answers 500 when `slackFails` is set. */
function webhookServer(): Promise<{ server: Server; url: string; received: Received[]; slackFails: { value: boolean } }> {
  const received: Received[] = [];
  const slackFails = { value: false };
  const server = createServer((request: IncomingMessage, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      received.push({ path: request.url ?? '', authorization: request.headers.authorization, body: JSON.parse(body) });
      response.statusCode = request.url?.startsWith('/slack/') && slackFails.value ? 500 : 200;
      response.end('ok');
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received, slackFails })),
  );
}

const backfill = snippet({
  description: 'backfill settlement currency',
  touches: ['trades'],
  up: 'await rows(sql`update trades t set settlement_currency = d.currency from deals d where d.id = t.deal_id and t.settlement_currency is null`);',
  verify: 'const [r] = await rows(sql`select count(*)::int as n from trades where settlement_currency is null`); return r.n === 0;',
});
// Passes on the dump; fails in production, where a partner from ZZ arrived after the dump was taken.
const closeZz = snippet({
  description: 'close partners of country ZZ',
  dependsOn: ['0001_backfill'],
  touches: ['partners'],
  up: "await rows(sql`update partners set name = name || ' (closed)' where country = 'ZZ'`);",
  verify: "const [r] = await rows(sql`select count(*)::int as n from partners where country = 'ZZ'`); return { ok: r.n === 0, message: r.n + ' partners from ZZ are still there' };",
});

describe('the production pipeline, step by step: lock, gates, rehearsal, run, unlock, notify', () => {
  let work: string;
  let dumps: Awaited<ReturnType<typeof exampleServiceDumps>>;
  let hooks: Awaited<ReturnType<typeof webhookServer>>;
  const repos: FixtureRepo[] = [];
  const outputs: string[] = [];
  /** The database the pipeline treats as production. */
  let productionDb: string;

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'pipeline-'));
    dumps = await exampleServiceDumps(work);
    hooks = await webhookServer();
    productionDb = dumps.database;
  });
  afterAll(async () => {
    for (const repo of repos) await repo.dispose();
    await dumps.dispose();
    await new Promise((resolve) => hooks.server.close(resolve));
    await exec('dropdb', ['-h', '127.0.0.1', '-U', 'postgres', '--if-exists', '--force', `pipeline_prod_${process.pid}`]);
    await rm(work, { recursive: true, force: true });
  });

  /** A snippet repo in git: BASE with 0001 (already applied in production), HEAD the merge adding `added`. */
  async function mergedRepo(added: Record<string, string>): Promise<{ repo: FixtureRepo; range: string }> {
    const repo = await createRepo({ '0001_backfill.ts': backfill });
    repos.push(repo);
    const git = (...args: string[]) => exec('git', ['-c', 'user.name=ci', '-c', 'user.email=ci@example.com', ...args], { cwd: repo.dir });
    await git('init', '-q', '-b', 'main');
    await git('add', 'snippets', 'snippets.lock', 'snippets.config.ts', 'package.json');
    await git('commit', '-q', '-m', 'base');
    const base = (await git('rev-parse', 'HEAD')).stdout.trim();
    expect((await step(repo, 'snippets', ['run'])).code).toBe(0); // production has run the base already
    for (const [name, source] of Object.entries(added)) await repo.write(`snippets/${name}`, source);
    await exec(process.execPath, [SNIPPETS_CLI, 'manifest'], { cwd: repo.dir });
    await git('add', 'snippets', 'snippets.lock');
    await git('commit', '-q', '-m', 'merge');
    const head = (await git('rev-parse', 'HEAD')).stdout.trim();
    return { repo, range: `${base}..${head}` };
  }

  /** One pipeline step: a command with the pipeline's environment; its output is kept for the secrets check. */
  function step(repo: FixtureRepo, command: 'snippets' | 'gates', args: string[]): Promise<{ code: number; out: string }> {
    const env = childEnv({
      NO_COLOR: '1',
      DATABASE_URL: withPassword(urlOf(productionDb)),
      SNIPPETS_SLACK_WEBHOOK_URL: `${hooks.url}/slack/${SLACK_SECRET}`,
      SNIPPETS_WEBHOOK_URL: `${hooks.url}/hook`,
      SNIPPETS_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
      SNIPPETS_APPROVED_BY: 'alice,bob',
      SNIPPETS_CI_RUN_URL: 'https://ci.example.com/runs/42',
      SNIPPETS_LOCK_HOLDER: 'https://ci.example.com/runs/42',
    });
    if (command === 'gates') return runGates(args, repo.dir, { ...env, DATABASE_URL: withPassword(SERVER_URL) }).then((r) => record(r.code, r.stdout + r.stderr));
    return new Promise((resolve) =>
      execFile(process.execPath, [SNIPPETS_CLI, ...args], { cwd: repo.dir, env }, (error, stdout, stderr) =>
        resolve(record(error ? Number(error.code ?? 1) : 0, stdout + stderr)),
      ),
    );
  }
  function record(code: number, out: string) {
    outputs.push(out);
    return { code, out };
  }

  /** The main-branch sequence; unlock and notify run whatever happened before them, as the CI's always-steps do. */
  async function runPipeline(repo: FixtureRepo, range: string) {
    const lock = await step(repo, 'snippets', ['lock', 'acquire', '--name', 'releases', '--ttl', '10m']);
    const gates = await step(repo, 'gates', ['check', '--only', 'manifest,graph', '--report-dir', 'gates-reports']);
    const rehearsal = await step(repo, 'gates', ['check', '--only', 'rehearsal,schema,touches', '--dump', dumps.custom, '--report-dir', 'rehearsal-reports']);
    const run =
      lock.code === 0 && gates.code === 0 && rehearsal.code === 0
        ? await step(repo, 'snippets', ['run', '--expect-from-git', range, '--lock', 'releases', '--report-dir', 'run-reports'])
        : undefined;
    const unlock = await step(repo, 'snippets', ['lock', 'release', '--name', 'releases']);
    const notify = await step(repo, 'snippets', ['notify', '--report-dir', 'run-reports']);
    return { lock, gates, rehearsal, run, unlock, notify };
  }

  async function production<T>(work: (sql: postgres.Sql) => Promise<T>): Promise<T> {
    const sql = postgres(urlOf(productionDb), { max: 1, onnotice: () => {} });
    try {
      return await work(sql);
    } finally {
      await sql.end();
    }
  }

  it('runs exactly the merged snippet in production and tells the webhooks who ran and approved it', async () => {
    const { repo, range } = await mergedRepo({ '0002_close_zz.ts': closeZz });
    hooks.received.length = 0;

    const steps = await runPipeline(repo, range);
    expect(Object.fromEntries(Object.entries(steps).map(([name, s]) => [name, s?.code]))).toEqual({ lock: 0, gates: 0, rehearsal: 0, run: 0, unlock: 0, notify: 0 });
    const ledger = await production((sql) => sql`select id, approved_by, ci_run_url from snippets.ledger order by id`);
    expect(ledger.map((r) => ({ ...r }))).toEqual([
      { id: '0001_backfill', approved_by: 'alice,bob', ci_run_url: 'https://ci.example.com/runs/42' },
      { id: '0002_close_zz', approved_by: 'alice,bob', ci_run_url: 'https://ci.example.com/runs/42' },
    ]);
    const report = JSON.parse(await readFile(path.join(repo.dir, 'run-reports/report.json'), 'utf8'));
    expect(report).toMatchObject({ outcome: 'applied', message: 'applied 0002_close_zz', expected: ['0002_close_zz'] });
    const slack = hooks.received.find((r) => r.path.startsWith('/slack/'))!;
    expect(slack.body.text).toMatch(/^✅ gates-fixture: applied: applied 0002_close_zz \(run by \S+, approved by alice,bob\) https:\/\/ci\.example\.com\/runs\/42$/);
    const hook = hooks.received.find((r) => r.path === '/hook')!;
    expect(hook.authorization).toBe(`Bearer ${WEBHOOK_TOKEN}`);
    expect(hook.body).toMatchObject({ event: 'snippets.run', repo: 'gates-fixture', outcome: 'success', report: { outcome: 'applied' } });
    expect((await step(repo, 'snippets', ['lock', 'status', '--name', 'releases'])).out).toBe('releases is free\n');
    await expectNoSecrets(repo);
  });

  it('a snippet that fails in production: the lock is released and the notification says what failed', async () => {
    // A production of its own, restored from the dump, that moved on after the dump was taken.
    productionDb = `pipeline_prod_${process.pid}`;
    await exec('createdb', ['-h', '127.0.0.1', '-U', 'postgres', productionDb]);
    await exec('pg_restore', ['-d', urlOf(productionDb), dumps.custom]);
    const { repo, range } = await mergedRepo({ '0002_close_zz.ts': closeZz });
    await production((sql) => sql`insert into partners (name, country) values ('Late Arrival Ltd', 'ZZ')`);
    hooks.received.length = 0;
    hooks.slackFails.value = true;

    const steps = await runPipeline(repo, range);
    expect([steps.lock.code, steps.gates.code, steps.rehearsal.code, steps.run?.code, steps.unlock.code, steps.notify.code]).toEqual([0, 0, 0, 1, 0, 0]);
    expect(steps.run?.out).toContain('0002_close_zz: verify failed: 1 partners from ZZ are still there');
    expect(steps.notify.out).toContain("notify: slack failed: HTTP 500; the run's outcome is unchanged");
    expect((await step(repo, 'snippets', ['lock', 'status', '--name', 'releases'])).out).toBe('releases is free\n');
    const hook = hooks.received.find((r) => r.path === '/hook')!;
    expect(hook.body.outcome).toBe('failure');
    expect(hook.body.text).toMatch(/^❌ gates-fixture: failed: 0002_close_zz: verify failed: 1 partners from ZZ are still there; the transaction was rolled back \(run by /);
    const ledger = await production((sql) => sql`select id from snippets.ledger order by id`);
    expect(ledger.map((r) => r.id)).toEqual(['0001_backfill']);
    const events = await production((sql) => sql`select kind, detail->>'channel' as channel from snippets.events where kind in ('failed', 'notified', 'notify-failed')`);
    expect(events.map((e) => `${e.kind}:${e.channel ?? ''}`).sort()).toEqual(['failed:', 'notified:webhook', 'notify-failed:slack']);
    await expectNoSecrets(repo);
  });

  /** Every step's output, every report file, the ledger and events, and every message body. */
  async function expectNoSecrets(repo: FixtureRepo) {
    const texts = [...outputs];
    for (const dir of ['gates-reports', 'rehearsal-reports', 'run-reports']) {
      for (const file of await readdir(path.join(repo.dir, dir)).catch(() => [])) texts.push(await readFile(path.join(repo.dir, dir, file), 'utf8'));
    }
    texts.push(JSON.stringify(await production((sql) => sql`select * from snippets.ledger`)));
    texts.push(JSON.stringify(await production((sql) => sql`select * from snippets.events`)));
    texts.push(...hooks.received.map((r) => JSON.stringify(r.body)));
    expect(texts.length).toBeGreaterThan(10);
    for (const secret of [DB_PASSWORD, SLACK_SECRET, WEBHOOK_TOKEN]) {
      expect(texts.filter((t) => t.includes(secret))).toEqual([]);
    }
  }
});
