import { randomBytes } from 'node:crypto';
import { cp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { applySchema, seed } from '@snippets/example-chat-service';
import { migrate } from '@snippets/example-service';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyWorkspace, listFiles, nx, run, WORKSPACE_ROOT } from '../../../scripts/workspace-copy.ts';

const SERVER_URL = process.env.SNIPPETS_TEST_SERVER_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const SNIPPETS = path.join(WORKSPACE_ROOT, 'node_modules/.bin/snippets');
const git = (args: string[], cwd: string) => run('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.com', ...args], cwd);

describe('the generators, run for real with nx g in a copy of the workspace', () => {
  let workspace: Awaited<ReturnType<typeof copyWorkspace>>;
  let repoDir: string;

  beforeAll(async () => {
    workspace = await copyWorkspace();
    repoDir = path.join(workspace.root, 'snippet-repos/e2e-snippets');
    const created = await nx(
      ['g', 'snippet-repo', 'e2e-snippets', '--service=@snippets/example-service', '--serviceImage=registry.example.com/example-service'],
      workspace.root,
    );
    expect(created.output).toContain('CREATE snippet-repos/e2e-snippets/Dockerfile');
    expect(created.code).toBe(0);
    // A snippet repo becomes a git repository of its own; the pipeline reads its history.
    expect((await git(['init', '-q', '-b', 'main'], repoDir)).code).toBe(0);
    expect((await git(['add', '-A'], repoDir)).code).toBe(0);
    expect((await git(['commit', '-qm', 'snippet repo'], repoDir)).code).toBe(0);
  });
  afterAll(() => workspace.dispose());

  it('adds snippets whose own tests pass, which the runner then applies on PostgreSQL', async () => {
    expect((await nx(['g', 'snippet', 'fix-trade-currency', '--repo=e2e-snippets'], workspace.root)).code).toBe(0);
    expect((await nx(['g', 'snippet', 'purge-stale-keys', '--repo=e2e-snippets', '--kind=delete', '--table=api_keys'], workspace.root)).code).toBe(0);
    expect((await nx(['g', 'snippet', 'backfill-deal-refs', '--repo=e2e-snippets', '--kind=batched', '--table=deals'], workspace.root)).code).toBe(0);
    expect(await listFiles(path.join(repoDir, 'snippets'))).toEqual([
      '.gitkeep',
      '0001_fix_trade_currency.test.ts',
      '0001_fix_trade_currency.ts',
      '0002_purge_stale_keys.test.ts',
      '0002_purge_stale_keys.ts',
      '0003_backfill_deal_refs.test.ts',
      '0003_backfill_deal_refs.ts',
    ]);

    const tests = await nx(['run', 'e2e-snippets:test'], workspace.root);
    expect(tests.output).toMatch(/Tests\s+3 passed/);
    expect(tests.code).toBe(0);
    expect((await run(SNIPPETS, ['manifest', '--check'], repoDir)).code).toBe(0);
    // The merge: the pipeline's script names the snippets it added, for the container's --expect.
    const base = (await git(['rev-parse', 'HEAD'], repoDir)).output.trim();
    expect((await git(['add', '-A'], repoDir)).code).toBe(0);
    expect((await git(['commit', '-qm', 'three snippets'], repoDir)).code).toBe(0);
    const expected = await run(path.join(repoDir, 'ci/expected-snippets.sh'), [base, 'HEAD'], repoDir);
    expect(expected.output.trim()).toBe('0001_fix_trade_currency,0002_purge_stale_keys,0003_backfill_deal_refs');
    // The repo's own gates script: rehearsed on a database built from the service's migrations.
    const gates = await run('npm', ['run', 'gates', '--silent', '--', '--only', 'manifest,graph,rehearsal,schema,touches,undo'], repoDir, { DATABASE_URL: SERVER_URL });
    expect(gates.output).toContain('all gates passed');
    expect(gates.code).toBe(0);

    const name = `generated_e2e_${randomBytes(5).toString('hex')}`;
    const admin = postgres(SERVER_URL, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${name}`);
    try {
      const url = new URL(SERVER_URL);
      url.pathname = `/${name}`;
      const env = { DATABASE_URL: url.toString() };
      // Production's database has the service's schema.
      const client = postgres(url.toString(), { max: 1, onnotice: () => {} });
      await migrate(drizzle({ client }) as never).finally(() => client.end());
      // The runner's own reading of the merge agrees with the script's.
      const plan = await run(SNIPPETS, ['plan', '--expect-from-git', `${base}..HEAD`], repoDir, env);
      expect(plan.output).not.toContain('refused');
      expect(plan.code).toBe(0);
      const applied = await run(SNIPPETS, ['run', '--expect', expected.output.trim()], repoDir, env);
      expect(applied.output).toContain('applied 3 snippet(s)');
      expect(applied.code).toBe(0);
      const status = JSON.parse((await run(SNIPPETS, ['status', '--json'], repoDir, env)).output);
      expect(status.repo).toBe('e2e-snippets');
      expect(status.snippets.map((s: { state: string }) => s.state)).toEqual(['applied', 'applied', 'applied']);

      // Production's ledger export lets the maintainer fold both into one squash.
      await writeFile(path.join(workspace.root, 'ledger.json'), JSON.stringify(status));
      const squashed = await nx(['g', 'squash', '--repo=e2e-snippets', '--ledger=ledger.json'], workspace.root);
      expect(squashed.output).toContain('CREATE snippet-repos/e2e-snippets/snippets/0004_squashed_0001_0003.ts');
      expect(squashed.code).toBe(0);
      expect(await listFiles(path.join(repoDir, 'snippets'))).toEqual([
        '.gitkeep',
        '0004_squashed_0001_0003.ts',
        'archive/0001_fix_trade_currency.test.ts',
        'archive/0001_fix_trade_currency.ts',
        'archive/0002_purge_stale_keys.test.ts',
        'archive/0002_purge_stale_keys.ts',
        'archive/0003_backfill_deal_refs.test.ts',
        'archive/0003_backfill_deal_refs.ts',
      ]);
      expect((await run(SNIPPETS, ['manifest', '--check'], repoDir)).code).toBe(0);
      const after = JSON.parse((await run(SNIPPETS, ['status', '--json'], repoDir, env)).output);
      expect(after.snippets.map((s: { id: string; state: string }) => `${s.id}:${s.state}`)).toEqual([
        '0001_fix_trade_currency:squashed',
        '0002_purge_stale_keys:squashed',
        '0003_backfill_deal_refs:squashed',
        '0004_squashed_0001_0003:applied',
      ]);
      expect((await run(SNIPPETS, ['run'], repoDir, env)).output).toContain('nothing to run');
    } finally {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    }
  });

  it('npx plop snippet in an extracted copy writes byte for byte what nx g snippet writes', async () => {
    const extracted = path.join(os.tmpdir(), `snippets-extracted-${randomBytes(4).toString('hex')}`);
    await cp(repoDir, extracted, { recursive: true, filter: (source) => !source.includes('node_modules') });
    await symlink(path.join(WORKSPACE_ROOT, 'node_modules'), path.join(extracted, 'node_modules'), 'dir');
    try {
      const plop = (args: string[]) => run(path.join(WORKSPACE_ROOT, 'node_modules/.bin/plop'), args, extracted);
      expect((await plop(['snippet', 'settle-trades'])).code).toBe(0);
      expect((await nx(['g', 'snippet', 'settle-trades', '--repo=e2e-snippets'], workspace.root)).code).toBe(0);
      expect((await plop(['delete-snippet', 'purge-old-keys', 'api_keys'])).code).toBe(0);
      expect((await nx(['g', 'snippet', 'purge-old-keys', '--repo=e2e-snippets', '--kind=delete', '--table=api_keys'], workspace.root)).code).toBe(0);
      expect((await plop(['batched-snippet', 'touch-trades', 'trades'])).code).toBe(0);
      expect((await nx(['g', 'snippet', 'touch-trades', '--repo=e2e-snippets', '--kind=batched', '--table=trades'], workspace.root)).code).toBe(0);
      expect((await plop(['call-snippet', 'merge-deals', 'mergeDuplicateDeals', '@snippets/example-service/domain'])).code).toBe(0);
      expect((await nx(['g', 'snippet', 'merge-deals', '--repo=e2e-snippets', '--kind=call', '--function=mergeDuplicateDeals'], workspace.root)).code).toBe(0);

      const written = (await listFiles(extracted)).filter((f) => /settle_trades|purge_old_keys|touch_trades|merge_deals/.test(f) || f === 'snippets.lock');
      // Each snippet and its test, plus the lock.
      expect(written).toHaveLength(9);
      expect(written.filter((f) => /^snippets\/\d{4}_(settle_trades|purge_old_keys|touch_trades|merge_deals)(\.test)?\.ts$/.test(f))).toHaveLength(8);
      for (const file of written) {
        expect(await readFile(path.join(extracted, file)), file).toEqual(await readFile(path.join(repoDir, file)));
      }
    } finally {
      await rm(extracted, { recursive: true, force: true });
    }
  });

  it("--kind=call writes a snippet that calls the service's own code with its db, whose test passes", async () => {
    const created = await nx(['g', 'snippet-repo', 'call-snippets', '--service=@snippets/example-service', '--serviceImage=registry.example.com/example-service'], workspace.root);
    expect(created.code).toBe(0);
    const callDir = path.join(workspace.root, 'snippet-repos/call-snippets');
    expect((await nx(['g', 'snippet', 'merge-duplicate-deals', '--repo=call-snippets', '--kind=call', '--function=mergeDuplicateDeals'], workspace.root)).code).toBe(0);
    const file = path.join(callDir, 'snippets/0001_merge_duplicate_deals.ts');
    expect(await readFile(file, 'utf8')).toContain('import { mergeDuplicateDeals } from "@snippets/example-service/domain";');
    const tests = await nx(['run', 'call-snippets:test'], workspace.root);
    expect(tests.output).toMatch(/Tests\s+1 passed/);
    expect(tests.code).toBe(0);

    // Filled in, the call type-checks against the service's params and reaches the service's code inside the snippet.
    await writeFile(file, (await readFile(file, 'utf8')).replace('args: null as Args | null,', 'args: { keepDealId: 1, duplicateDealIds: [2] },'));
    const filled = await nx(['run', 'call-snippets:test'], workspace.root);
    expect(filled.output).toContain('mergeDuplicateDeals: deal 1 does not exist');
    expect(filled.code).not.toBe(0);
  });

  it("a repo for a service shaped like real apps: quoted mixed-case tables, uuid keys, a schema pushed from SQL", async () => {
    const created = await nx(
      ['g', 'snippet-repo', 'chat-snippets', '--service=@snippets/example-chat-service', '--serviceImage=registry.example.com/chat', '--schemaFile=schema.sql', '--schemaVersion=none'],
      workspace.root,
    );
    expect(created.code).toBe(0);
    const chatDir = path.join(workspace.root, 'snippet-repos/chat-snippets');
    // As a user types it in a shell; Nx's parser strips the quotes, and the schema still finds "User".
    expect((await nx(['g', 'snippet', 'purge-spam-accounts', '--repo=chat-snippets', '--kind=delete', '--table="User"'], workspace.root)).code).toBe(0);
    expect((await nx(['g', 'snippet', 'redact-messages', '--repo=chat-snippets', '--kind=batched', '--table=Message'], workspace.root)).code).toBe(0);
    const wrong = await nx(['g', 'snippet', 'purge', '--repo=chat-snippets', '--kind=delete', '--table=users'], workspace.root);
    expect(wrong.output).toContain('--table users: no such table in @snippets/example-chat-service/schema; did you mean "User" (export user)?');
    expect(wrong.code).not.toBe(0);
    const purge = await readFile(path.join(chatDir, 'snippets/0001_purge_spam_accounts.ts'), 'utf8');
    expect(purge).toContain('import { user } from "@snippets/example-chat-service/schema";');
    expect(purge).toContain('ids: [] as string[],');

    // The repo's own tests build PGlite from schema.sql; the runner applies both on PostgreSQL,
    // walking the uuid key of "Message" with two workers.
    const tests = await nx(['run', 'chat-snippets:test'], workspace.root);
    expect(tests.output).toMatch(/Tests\s+2 passed/);
    expect(tests.code).toBe(0);
    const name = `generated_chat_${randomBytes(5).toString('hex')}`;
    const admin = postgres(SERVER_URL, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${name}`);
    try {
      const url = new URL(SERVER_URL);
      url.pathname = `/${name}`;
      const client = postgres(url.toString(), { max: 1, onnotice: () => {} });
      try {
        const db = drizzle({ client });
        await applySchema(db as never);
        await seed(db as never);
      } finally {
        await client.end();
      }
      const env = { DATABASE_URL: url.toString() };
      const applied = await run(SNIPPETS, ['run', '--workers', '2', '--expect', '0001_purge_spam_accounts,0002_redact_messages'], chatDir, env);
      expect(applied.output).toContain('applied 2 snippet(s)');
      expect(applied.code).toBe(0);

      // Squashed, as on the first service: production's export lets the two fold into one.
      await writeFile(path.join(workspace.root, 'chat-ledger.json'), (await run(SNIPPETS, ['status', '--json'], chatDir, env)).output);
      const squashed = await nx(['g', 'squash', '--repo=chat-snippets', '--ledger=chat-ledger.json'], workspace.root);
      expect(squashed.output).toContain('CREATE snippet-repos/chat-snippets/snippets/0003_squashed_0001_0002.ts');
      expect(squashed.code).toBe(0);
      const after = JSON.parse((await run(SNIPPETS, ['status', '--json'], chatDir, env)).output);
      expect(after.snippets.map((s: { id: string; state: string }) => `${s.id}:${s.state}`)).toEqual([
        '0001_purge_spam_accounts:squashed',
        '0002_redact_messages:squashed',
        '0003_squashed_0001_0002:applied',
      ]);
    } finally {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    }
  });

  it('--ci=jenkins writes a Jenkinsfile instead of the workflow, and the pipeline scripts are executable', async () => {
    const created = await nx(['g', 'snippet-repo', 'jenkins-snippets', '--service=@snippets/example-service', '--serviceImage=registry.example.com/example-service', '--ci=jenkins'], workspace.root);
    expect(created.code).toBe(0);
    const files = await listFiles(path.join(workspace.root, 'snippet-repos/jenkins-snippets'));
    expect(files).toContain('Jenkinsfile');
    expect(files.filter((f) => f.startsWith('.github'))).toEqual([]);
    for (const script of ['ci/gates.sh', 'ci/expected-snippets.sh', 'deploy/run.sh', 'deploy/ecs/run-task.sh', 'deploy/kubernetes/run-job.sh']) {
      expect((await stat(path.join(workspace.root, 'snippet-repos/jenkins-snippets', script))).mode & 0o111, script).toBe(0o111);
    }
    expect(await listFiles(repoDir)).toContain('.github/workflows/snippets.yml');
  });

  it.each([
    [['g', 'snippet-repo', 'ci-snippets', '--service=@snippets/example-service', '--serviceImage=x/y', '--ci=gitlab'], "Property 'ci' does not match the schema. 'gitlab' should be one of github,jenkins."],
    [['g', 'snippet', 'fix/emails', '--repo=e2e-snippets'], "snippet name 'fix/emails' is not valid"],
    [['g', 'snippet', '..', '--repo=e2e-snippets'], "snippet name '..' is not valid"],
    [['g', 'snippet', 'fix emails', '--repo=e2e-snippets'], "snippet name 'fix emails' is not valid"],
    [['g', 'snippet', 'fix-emails', '--repo=no-such-repo'], "--repo 'no-such-repo' is not a snippet repo"],
    [['g', 'snippet', 'merge-deals', '--repo=e2e-snippets', '--kind=call'], '--kind call needs --function, the service function the snippet calls with its db and params'],
    [['g', 'snippet', 'merge-deals', '--repo=e2e-snippets', '--kind=call', '--function=mergeDeals'], '--function mergeDeals: @snippets/example-service/domain exports no function mergeDeals'],
    [['g', 'snippet-repo', 'e2e-snippets', '--service=@snippets/example-service', '--serviceImage=x/y'], 'snippet-repos/e2e-snippets already exists'],
    [['g', 'squash', '--repo=e2e-snippets', '--ledger=no-such-export.json'], "--ledger 'no-such-export.json' does not exist"],
    [['g', 'snippet-repo', 'Bad Name', '--service=@snippets/example-service', '--serviceImage=x/y'], "snippet repo name 'Bad Name' is not valid"],
  ])('nx %j fails clearly and writes nothing', async (args, message) => {
    const before = await listFiles(path.join(workspace.root, 'snippet-repos'));
    const result = await nx(args, workspace.root);
    expect(result.output).toContain(message);
    expect(result.code).not.toBe(0);
    expect(await listFiles(path.join(workspace.root, 'snippet-repos'))).toEqual(before);
  });
});
