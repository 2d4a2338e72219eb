import { randomBytes } from 'node:crypto';
import { cp, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyWorkspace, listFiles, nx, run, WORKSPACE_ROOT } from '../../../scripts/workspace-copy.ts';

const SNIPPETS = path.join(WORKSPACE_ROOT, 'node_modules/.bin/snippets');
const git = (args: string[], cwd: string) => run('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.com', ...args], cwd);
// What `snippets input add accounts FILE` writes in place of the null entry.
const APPROVED = { sha256: 'c'.repeat(64), rows: 3, bytes: 120 };

describe('nx g snippet --kind=input, run for real with nx g in a copy of the workspace', () => {
  let workspace: Awaited<ReturnType<typeof copyWorkspace>>;
  let repoDir: string;
  const lock = async () => JSON.parse(await readFile(path.join(repoDir, 'snippets.lock'), 'utf8'));
  let approvedUsers: unknown;

  beforeAll(async () => {
    workspace = await copyWorkspace();
    repoDir = path.join(workspace.root, 'snippet-repos/input-snippets');
    const created = await nx(['g', 'snippet-repo', 'input-snippets', '--service=@snippets/example-service', '--serviceImage=registry.example.com/example-service'], workspace.root);
    expect(created.code).toBe(0);
    expect((await git(['init', '-q', '-b', 'main'], repoDir)).code).toBe(0);

    expect((await nx(['g', 'snippet', 'close-accounts', '--repo=input-snippets', '--kind=input'], workspace.root)).code).toBe(0);
    expect((await lock()).inputs).toEqual({ '0001_close_accounts': { accounts: null } });
    await writeFile(path.join(repoDir, 'snippets.lock'), JSON.stringify({ ...(await lock()), inputs: { '0001_close_accounts': { accounts: APPROVED } } }));
    const created2 = await nx(['g', 'snippet', 'deactivate-users', '--repo=input-snippets', '--kind=input', '--input=users', '--table=users'], workspace.root);
    expect(created2.output).toContain('CREATE snippet-repos/input-snippets/snippets/fixtures/0002_deactivate_users/users.csv');
    expect(created2.output).toContain('UPDATE snippet-repos/input-snippets/README.md');
    expect(created2.code).toBe(0);
    expect((await nx(['g', 'snippet', 'fix-trade-currency', '--repo=input-snippets'], workspace.root)).code).toBe(0);
  });
  afterAll(() => workspace.dispose());

  it("writes each snippet, its test and fixture, and keeps the approved input's digest in snippets.lock beside the new null entry", async () => {
    expect(await listFiles(path.join(repoDir, 'snippets'))).toEqual([
      '.gitkeep',
      '0001_close_accounts.test.ts',
      '0001_close_accounts.ts',
      '0002_deactivate_users.test.ts',
      '0002_deactivate_users.ts',
      '0003_fix_trade_currency.test.ts',
      '0003_fix_trade_currency.ts',
      'fixtures/0001_close_accounts/accounts.csv',
      'fixtures/0002_deactivate_users/users.csv',
    ]);
    expect((await lock()).inputs).toEqual({ '0001_close_accounts': { accounts: APPROVED }, '0002_deactivate_users': { users: null } });
    expect(await readFile(path.join(repoDir, 'snippets/fixtures/0002_deactivate_users/users.csv'), 'utf8')).toMatch(/^id,reason\n101,.+\n102,.+\n103,.+\n$/);
    const readme = await readFile(path.join(repoDir, 'README.md'), 'utf8');
    expect(readme).toContain("- `0001_close_accounts` reads `accounts`: until it has run, CI's `SNIPPETS_INPUTS` carries `accounts=s3://…/0001_close_accounts/accounts.csv`");
    expect(readme).toContain("- `0002_deactivate_users` reads `users`: until it has run, CI's `SNIPPETS_INPUTS` carries `users=s3://…/0002_deactivate_users/users.csv`");
  });

  it('the generated snippets and their tests type-check against the runner and the service schema', async () => {
    const checked = await run(path.join(WORKSPACE_ROOT, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], repoDir);
    expect(checked.output).toBe('');
    expect(checked.code).toBe(0);
  });

  it('snippets manifest agrees with the lock it wrote; status ignores the fixtures folder; an input is approved from its local copy, which git leaves out', async () => {
    const written = await readFile(path.join(repoDir, 'snippets.lock'), 'utf8');
    expect((await run(SNIPPETS, ['manifest'], repoDir)).code).toBe(0);
    expect(await readFile(path.join(repoDir, 'snippets.lock'), 'utf8')).toBe(written);
    const status = await run(SNIPPETS, ['status', '--json'], repoDir, { DATABASE_URL: 'pglite:memory' });
    expect(status.code).toBe(0);
    expect(JSON.parse(status.output).snippets.map((s: { id: string; state: string }) => `${s.id}:${s.state}`)).toEqual([
      '0001_close_accounts:pending',
      '0002_deactivate_users:pending',
      '0003_fix_trade_currency:pending',
    ]);

    // The pull request's manifest check refuses the null entry until the reviewed file is approved.
    const unapproved = await run(SNIPPETS, ['manifest', '--check'], repoDir);
    expect(unapproved.output).toContain('run `snippets input add users FILE`');
    expect(unapproved.code).toBe(3);
    await mkdir(path.join(repoDir, 'inputs/0002_deactivate_users'), { recursive: true });
    await writeFile(path.join(repoDir, 'inputs/0002_deactivate_users/users.csv'), 'id,reason\n7,left the company\n8,asked to be forgotten\n');
    const added = await run(SNIPPETS, ['input', 'add', 'users', 'inputs/0002_deactivate_users/users.csv'], repoDir);
    expect(added.output).toContain('approved input users of 0002_deactivate_users');
    expect(added.code).toBe(0);
    approvedUsers = (await lock()).inputs['0002_deactivate_users'].users;
    expect(approvedUsers).toMatchObject({ rows: 2 });
    expect((await run(SNIPPETS, ['manifest', '--check'], repoDir)).code).toBe(0);

    const untracked = (await git(['status', '--porcelain', '--untracked-files=all'], repoDir)).output;
    expect(untracked).toContain('snippets/fixtures/0002_deactivate_users/users.csv');
    expect(untracked).not.toContain('inputs/0002_deactivate_users');
  });

  it("the generated snippets' own tests pass, each reading its fixture", async () => {
    const tests = await nx(['run', 'input-snippets:test'], workspace.root);
    expect(tests.output).toMatch(/Tests\s+3 passed \| 1 todo/);
    expect(tests.code).toBe(0);
  });

  it('npx plop input-snippet in an extracted copy writes byte for byte what nx g snippet --kind=input writes', async () => {
    const extracted = path.join(os.tmpdir(), `snippets-extracted-${randomBytes(4).toString('hex')}`);
    await cp(repoDir, extracted, { recursive: true, filter: (source) => !source.includes('node_modules') });
    await symlink(path.join(WORKSPACE_ROOT, 'node_modules'), path.join(extracted, 'node_modules'), 'dir');
    try {
      const plop = (args: string[]) => run(path.join(WORKSPACE_ROOT, 'node_modules/.bin/plop'), args, extracted);
      expect((await plop(['input-snippet', 'refund-trades', 'refunds', 'trades'])).code).toBe(0);
      expect((await nx(['g', 'snippet', 'refund-trades', '--repo=input-snippets', '--kind=input', '--input=refunds', '--table=trades'], workspace.root)).code).toBe(0);
      // A second input named accounts: the README names it with its snippet.
      expect((await plop(['input-snippet', 'reopen-accounts', 'accounts', ''])).code).toBe(0);
      expect((await nx(['g', 'snippet', 'reopen-accounts', '--repo=input-snippets', '--kind=input'], workspace.root)).code).toBe(0);

      const written = (await listFiles(extracted)).filter((f) => /refund_trades|reopen_accounts/.test(f) || f === 'snippets.lock' || f === 'README.md');
      expect(written).toEqual([
        'README.md',
        'snippets.lock',
        'snippets/0004_refund_trades.test.ts',
        'snippets/0004_refund_trades.ts',
        'snippets/0005_reopen_accounts.test.ts',
        'snippets/0005_reopen_accounts.ts',
        'snippets/fixtures/0004_refund_trades/refunds.csv',
        'snippets/fixtures/0005_reopen_accounts/accounts.csv',
      ]);
      for (const file of written) {
        expect(await readFile(path.join(extracted, file)), file).toEqual(await readFile(path.join(repoDir, file)));
      }
      expect(await readFile(path.join(repoDir, 'README.md'), 'utf8')).toContain('`0005_reopen_accounts/accounts=s3://…/0005_reopen_accounts/accounts.csv`');
      expect((await lock()).inputs).toEqual({
        '0001_close_accounts': { accounts: APPROVED },
        '0002_deactivate_users': { users: approvedUsers },
        '0004_refund_trades': { refunds: null },
        '0005_reopen_accounts': { accounts: null },
      });
    } finally {
      await rm(extracted, { recursive: true, force: true });
    }
  });
});
