import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readJson, type Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { buildManifest, INPUTS_MARK, SNIPPET_KINDS } from '@snippets/runner/scaffold';
import { beforeEach, describe, expect, it } from 'vitest';
import snippetGenerator from '../src/generators/snippet/generator';
import snippetRepoGenerator from '../src/generators/snippet-repo/generator';
import squashGenerator from '../src/generators/squash/generator';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const repo = { name: 'payments-snippets', service: '@acme/payments', serviceImage: 'ghcr.io/acme/payments' };

function workspace(): Tree {
  const tree = createTreeWithEmptyWorkspace();
  tree.write('package.json', JSON.stringify({ name: 'ws', workspaces: ['libs/*', 'snippet-repos/*'], devDependencies: { vitest: '4.1.12', plop: '4.0.5' } }));
  tree.write('libs/payments/package.json', JSON.stringify({ name: '@acme/payments', version: '2.3.4' }));
  tree.write('libs/runner/package.json', JSON.stringify({ name: '@snippets/runner', version: '0.1.0' }));
  tree.write('libs/gates/package.json', JSON.stringify({ name: '@snippets/gates', version: '0.2.0' }));
  return tree;
}

it('takes a service installed from a registry at the version the workspace depends on', async () => {
  const tree = createTreeWithEmptyWorkspace();
  tree.write('package.json', JSON.stringify({ name: 'elsewhere', dependencies: { '@acme/payments': '^2.3.4' } }));
  await snippetRepoGenerator(tree, repo);
  expect(readJson(tree, 'snippet-repos/payments-snippets/package.json').dependencies['@acme/payments']).toBe('^2.3.4');
});

it.each([
  ['a registry range', '~2.3.4', '~2.3.4'],
  ['a file: path, made relative to the repo', 'file:vendor/app-db', 'file:../../vendor/app-db'],
  ['a link: path', 'link:./vendor/app-db', 'link:../../vendor/app-db'],
  ['an absolute file: path', 'file:/opt/app-db', 'file:/opt/app-db'],
  ['a git URL', 'git+https://git.example.com/acme/app-db.git#v2.3.4', 'git+https://git.example.com/acme/app-db.git#v2.3.4'],
  ['a GitHub shorthand', 'github:acme/app-db#semver:^2.3', 'github:acme/app-db#semver:^2.3'],
])('takes a service the workspace depends on by %s', async (_, spec, expected) => {
  const tree = createTreeWithEmptyWorkspace();
  tree.write('package.json', JSON.stringify({ name: 'elsewhere', dependencies: { '@acme/payments': spec } }));
  await snippetRepoGenerator(tree, repo);
  expect(readJson(tree, 'snippet-repos/payments-snippets/package.json').dependencies['@acme/payments']).toBe(expected);
  // npm ci in the image cannot fetch a path or a git URL: the Dockerfile leaves it out, and the image's code is linked.
  const dockerfile = tree.read('snippet-repos/payments-snippets/Dockerfile', 'utf-8')!;
  const leftOut = 'RUN npm pkg delete "dependencies.${SERVICE_PACKAGE}" && npm ci --omit=dev --no-audit --no-fund\nCOPY package.json ./\n';
  if (spec.startsWith('~')) expect(dockerfile).not.toContain('npm pkg delete');
  else expect(dockerfile).toContain(leftOut);
  expect(dockerfile).toContain('RUN npx --no-install snippets link-service --package "$SERVICE_PACKAGE" --service-dir "$SERVICE_DIR"');
});

it('writes a schema file and another tool\'s version table into the config of a service not migrated by drizzle', async () => {
  const tree = workspace();
  await snippetRepoGenerator(tree, { ...repo, schemaFile: 'schema.sql', schemaVersion: 'ops.flyway_schema_history.version' });
  const config = tree.read('snippet-repos/payments-snippets/snippets.config.ts', 'utf-8')!;
  expect(config).toContain(
    "service: { schemaFile: path.join(packageDir('@acme/payments', import.meta.url), 'schema.sql'), schemaVersion: { schema: 'ops', table: 'flyway_schema_history', column: 'version' } },",
  );
  expect(config).not.toContain('migrationsFolder');
  expect(readJson(tree, 'snippet-repos/payments-snippets/snippets-template.json').options).toMatchObject({ schemaFile: 'schema.sql', schemaVersion: 'ops.flyway_schema_history.version' });
});

it('outside this workspace, pins the runner and gates versions the plugin was released with', async () => {
  const tree = createTreeWithEmptyWorkspace();
  tree.write('package.json', JSON.stringify({ name: 'elsewhere', workspaces: ['libs/*'] }));
  tree.write('libs/payments/package.json', JSON.stringify({ name: '@acme/payments', version: '2.3.4' }));
  await snippetRepoGenerator(tree, repo);
  const plugin = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  const pkg = readJson(tree, 'snippet-repos/payments-snippets/package.json');
  expect(pkg.dependencies['@snippets/runner']).toBe(plugin.dependencies['@snippets/runner']);
  expect(pkg.dependencies['@snippets/gates']).toBe(plugin.peerDependencies['@snippets/gates']);
});

describe('snippet-repo generator', () => {
  let tree: Tree;
  beforeEach(() => {
    tree = workspace();
  });

  it('creates an independent repo that depends on published versions, with its image, compose file and Makefile', async () => {
    await snippetRepoGenerator(tree, { ...repo, scope: 'acme' });
    const root = 'snippet-repos/payments-snippets';
    for (const file of ['package.json', 'tsconfig.json', 'snippets.config.ts', 'snippets.lock', 'vitest.config.ts', 'plopfile.js', '.gitignore', '.env.example', 'README.md', 'Dockerfile', 'Makefile', 'docker-compose.yml', 'snippets/.gitkeep']) {
      expect(tree.exists(`${root}/${file}`), file).toBe(true);
    }
    const pkg = readJson(tree, `${root}/package.json`);
    expect(pkg.name).toBe('@acme/payments-snippets');
    // What made the repo, so a later template can be applied to it.
    expect(readJson(tree, `${root}/snippets-template.json`)).toEqual({
      template: `@snippets/nx-plugin@${JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version}`,
      options: { name: 'payments-snippets', service: '@acme/payments', serviceImage: 'ghcr.io/acme/payments', scope: 'acme', migrationsDir: 'drizzle', ci: 'github' },
    });
    expect(pkg.dependencies).toEqual({ '@snippets/runner': '^0.1.0', '@snippets/gates': '^0.2.0', '@acme/payments': '^2.3.4' });
    expect(JSON.stringify(pkg)).not.toMatch(/workspace:|file:|\.\.\//);
    expect(tree.read(`${root}/tsconfig.json`, 'utf-8')).not.toContain('extends');
    const dockerfile = tree.read(`${root}/Dockerfile`, 'utf-8')!;
    expect(dockerfile).toContain('ARG SERVICE_VERSION=local\nFROM ghcr.io/acme/payments:${SERVICE_VERSION}');
    expect(dockerfile).toContain('ENTRYPOINT ["npx", "--no-install", "snippets"]');
    expect(tree.read(`${root}/Makefile`, 'utf-8')).toMatch(/^snippet: .*\n\tnpx plop snippet/m);
    expect(tree.read(`${root}/snippets.config.ts`, 'utf-8')).toContain("repo: 'payments-snippets'");
    expect(readJson(tree, `${root}/snippets.lock`)).toEqual({ version: 1, total: sha256(''), snippets: {} });
  });

  it.each([
    [{ name: '' }, "snippet repo name '' is not valid"],
    [{ name: 'Payments' }, "snippet repo name 'Payments' is not valid"],
    [{ name: 'a/b' }, "snippet repo name 'a/b' is not valid"],
    [{ name: '../escape' }, "snippet repo name '../escape' is not valid"],
    [{ name: 'has space' }, "snippet repo name 'has space' is not valid"],
    [{ service: '@acme/unknown' }, "--service '@acme/unknown' is neither a package of this workspace nor a dependency in its package.json"],
    [{ schemaFile: 'schema.sql' }, "--schemaFile needs --schemaVersion: how the service's databases record their schema version, [schema.]table.column or none"],
    [{ schemaFile: 'schema.sql', migrationsDir: 'drizzle', schemaVersion: 'none' }, '--migrationsDir and --schemaFile both say how the schema is built'],
    [{ schemaFile: '../outside.sql', schemaVersion: 'none' }, "--schemaFile '../outside.sql' must be a file inside the service package"],
    [{ schemaFile: 'schema.sql', schemaVersion: 'versions' }, "--schemaVersion 'versions' is not none, drizzle or [schema.]table.column"],
    [{ serviceImage: 'ghcr.io/acme/payments:1.0' }, "--serviceImage 'ghcr.io/acme/payments:1.0' is not an image name without a tag"],
    [{ scope: 'Acme Inc' }, "--scope 'Acme Inc' is not an npm scope"],
  ])('refuses %o and writes nothing', async (override, message) => {
    await expect(snippetRepoGenerator(tree, { ...repo, ...override })).rejects.toThrow(message);
    expect(tree.listChanges().filter((c) => c.path.startsWith('snippet-repos'))).toEqual([]);
  });

  it('refuses a repo that already exists', async () => {
    await snippetRepoGenerator(tree, repo);
    await expect(snippetRepoGenerator(tree, repo)).rejects.toThrow('snippet-repos/payments-snippets already exists');
  });
});

describe('snippet generator', () => {
  let tree: Tree;
  const root = 'snippet-repos/payments-snippets';
  beforeEach(async () => {
    tree = workspace();
    // A service installed in this workspace, whose drizzle schema --table is looked up in.
    tree.write('libs/example-chat-service/package.json', JSON.stringify({ name: '@snippets/example-chat-service', version: '0.1.0' }));
    await snippetRepoGenerator(tree, { ...repo, service: '@snippets/example-chat-service', schemaFile: 'schema.sql', schemaVersion: 'none' });
  });

  it.each([
    ['its export name', 'user'],
    ['its name in SQL, case and all (Nx strips the quotes of --table=\'"User"\')', 'User'],
    ['its quoted, schema-qualified SQL name', 'public."User"'],
  ])('finds the table by %s, imports the drizzle table and types the keys as the schema does', async (_, table) => {
    await snippetGenerator(tree, { name: 'purge-spam-accounts', repo: 'payments-snippets', kind: 'delete', table });
    const source = tree.read(`${root}/snippets/0001_purge_spam_accounts.ts`, 'utf-8')!;
    expect(source).toContain("import { user } from \"@snippets/example-chat-service/schema\";");
    expect(source).toContain('touches: [user],');
    expect(source).toContain('ids: [] as string[],');
    expect(source).toContain('deleteSafely(user, inArray(user.id, params.ids), { allowCascadeTo: [] })');
  });

  it('walks a bigserial key as a number and a uuid key with inBatch, never `id > 0`', async () => {
    await snippetGenerator(tree, { name: 'backfill-order-lines', repo: 'payments-snippets', kind: 'delete', table: 'OrderLine' });
    expect(tree.read(`${root}/snippets/0001_backfill_order_lines.ts`, 'utf-8')).toContain('ids: [] as number[],');
    await snippetGenerator(tree, { name: 'redact-messages', repo: 'payments-snippets', kind: 'batched', table: 'Message' });
    const batched = tree.read(`${root}/snippets/0002_redact_messages.ts`, 'utf-8')!;
    expect(batched).toContain('table: message,\n      key: message.id,');
    expect(batched).toContain('where ${inBatch(message.id)}');
    expect(batched).not.toMatch(/from \?\? 0/);
  });

  it('numbers snippets, chains each to the previous one, writes its test and updates snippets.lock', async () => {
    await snippetGenerator(tree, { name: 'backfill-settlement-currency', repo: 'payments-snippets' });
    await snippetGenerator(tree, { name: 'merge_duplicate_deals', repo: 'payments-snippets', kind: 'delete', table: 'Thread' });

    const first = tree.read(`${root}/snippets/0001_backfill_settlement_currency.ts`, 'utf-8')!;
    const second = tree.read(`${root}/snippets/0002_merge_duplicate_deals.ts`, 'utf-8')!;
    expect(first).toContain('description: "Backfill settlement currency"');
    expect(first).not.toContain('dependsOn');
    expect(second).toContain('dependsOn: ["0001_backfill_settlement_currency"]');
    expect(second).toContain('deleteSafely(');
    expect(tree.read(`${root}/snippets/0002_merge_duplicate_deals.test.ts`, 'utf-8')).toContain("new URL('./0002_merge_duplicate_deals.ts', import.meta.url)");

    const lock = readJson(tree, `${root}/snippets.lock`);
    expect(lock.snippets).toEqual({
      '0001_backfill_settlement_currency': sha256(first),
      '0002_merge_duplicate_deals': sha256(second),
    });
    expect(lock.total).toBe(sha256(`0001_backfill_settlement_currency:${sha256(first)}\n0002_merge_duplicate_deals:${sha256(second)}\n`));
  });

  it("keeps the other snippets' input entries when it rewrites snippets.lock", async () => {
    await snippetGenerator(tree, { name: 'close-accounts', repo: 'payments-snippets' });
    const lock = readJson(tree, `${root}/snippets.lock`);
    const inputs = { '0001_close_accounts': { accounts: { sha256: 'a'.repeat(64), rows: 1200, bytes: 48_000 }, refunds: null } };
    tree.write(`${root}/snippets.lock`, JSON.stringify({ ...lock, inputs }));
    await snippetGenerator(tree, { name: 'fix-emails', repo: 'payments-snippets' });
    const rewritten = readJson(tree, `${root}/snippets.lock`);
    expect(rewritten.inputs).toEqual(inputs);
    expect(rewritten.total).toBe(buildManifest(Object.entries(rewritten.snippets).map(([id, checksum]) => ({ id, checksum: checksum as string })), inputs).total);
  });

  it('refuses to rewrite a snippets.lock it cannot read, rather than lose its inputs', async () => {
    tree.write(`${root}/snippets.lock`, '<<<<<<< HEAD\n{}\n=======\n{}\n>>>>>>> other\n');
    const before = tree.read(`${root}/snippets.lock`, 'utf-8');
    await expect(snippetGenerator(tree, { name: 'fix-emails', repo: 'payments-snippets' })).rejects.toThrow(
      /^snippets\.lock: is not valid JSON \(.*\), and rewriting it would lose its inputs' digests; fix it \(after a merge conflict keep both sides' entries\) and run this again$/,
    );
    expect(tree.read(`${root}/snippets.lock`, 'utf-8')).toBe(before);
    expect(tree.exists(`${root}/snippets/0001_fix_emails.ts`)).toBe(false);
  });

  it('never reuses the number of an archived (squashed) snippet', async () => {
    tree.write(`${root}/snippets/archive/0007_old_fix.ts`, 'export default {};\n');
    await snippetGenerator(tree, { name: 'next-fix', repo: 'payments-snippets' });
    expect(tree.exists(`${root}/snippets/0008_next_fix.ts`)).toBe(true);
  });

  it.each([
    [{ name: '' }, "snippet name '' is not valid"],
    [{ name: 'fix/emails' }, "snippet name 'fix/emails' is not valid"],
    [{ name: '../../etc' }, "snippet name '../../etc' is not valid"],
    [{ name: 'fix emails' }, "snippet name 'fix emails' is not valid"],
    [{ name: '0001_fix' }, "snippet name '0001_fix' is not valid"],
    [{ repo: 'nope' }, "--repo 'nope' is not a snippet repo (no snippet-repos/nope/snippets.config.ts); create it with `nx g snippet-repo nope`"],
    [{ repo: '../libs' }, "--repo '../libs' is not a snippet repo"],
    [{ kind: 'batched' as const }, "--kind batched needs --table, the table to walk in batches: its export in the service's drizzle schema or its name in SQL"],
    [{ kind: 'batched' as const, table: 'trades; drop table x' }, '--table trades; drop table x: no such table in @snippets/example-chat-service/schema; its tables are plan, user, workspace'],
    [{ kind: 'delete' as const }, "--kind delete needs --table, the table to delete from: its export in the service's drizzle schema or its name in SQL"],
    [{ kind: 'delete' as const, table: 'Usr' }, '--table Usr: no such table in @snippets/example-chat-service/schema; did you mean "User" (export user)?'],
    [{ kind: 'delete' as const, table: 'membership' }, '--table membership: has a composite primary key (workspaceId, userId); delete, batched and input snippets key their rows by one column, so start from --kind=basic'],
  ])('refuses %o and writes nothing', async (override, message) => {
    const before = tree.listChanges().length;
    await expect(snippetGenerator(tree, { name: 'fix-emails', repo: 'payments-snippets', ...override })).rejects.toThrow(message);
    expect(tree.listChanges()).toHaveLength(before);
  });

  it('refuses a second snippet with the same name', async () => {
    await snippetGenerator(tree, { name: 'fix-emails', repo: 'payments-snippets' });
    await expect(snippetGenerator(tree, { name: 'fix_emails', repo: 'payments-snippets' })).rejects.toThrow("a snippet named 'fix_emails' already exists");
  });
});

describe('snippet generator, --kind=call', () => {
  let tree: Tree;
  const root = 'snippet-repos/service-snippets';
  beforeEach(async () => {
    tree = workspace();
    // The example service, installed in this workspace, exports its domain functions from /domain.
    tree.write('libs/example-service/package.json', JSON.stringify({ name: '@snippets/example-service', version: '0.1.0' }));
    await snippetRepoGenerator(tree, { ...repo, name: 'service-snippets', service: '@snippets/example-service' });
  });

  it("imports the function from the service's domain module and calls it with the snippet's db and reviewed params", async () => {
    await snippetGenerator(tree, { name: 'merge-duplicate-deals', repo: 'service-snippets', kind: 'call', function: 'mergeDuplicateDeals' });
    const source = tree.read(`${root}/snippets/0001_merge_duplicate_deals.ts`, 'utf-8')!;
    expect(source).toContain('import { mergeDuplicateDeals } from "@snippets/example-service/domain";');
    expect(source).toContain('type Args = Parameters<typeof mergeDuplicateDeals>[1];');
    expect(source).toContain('args: null as Args | null,');
    expect(source).toContain('const result = await mergeDuplicateDeals(db, params.args);');
    // Until the author writes verify, a filled-in call cannot pass its post-check.
    expect(source).toContain("return { ok: false, message: 'verify does not check anything yet: read back what mergeDuplicateDeals changed' };");
    expect(tree.read(`${root}/snippets/0001_merge_duplicate_deals.test.ts`, 'utf-8')).toContain("new URL('./0001_merge_duplicate_deals.ts', import.meta.url)");
    expect(Object.keys(readJson(tree, `${root}/snippets.lock`).snippets)).toEqual(['0001_merge_duplicate_deals']);
  });

  it('imports from the module --from names', async () => {
    await snippetGenerator(tree, { name: 'seed-demo', repo: 'service-snippets', kind: 'call', function: 'seed', from: '@snippets/example-service' });
    expect(tree.read(`${root}/snippets/0001_seed_demo.ts`, 'utf-8')).toContain('import { seed } from "@snippets/example-service";');
  });

  it.each([
    [{ kind: 'call' as const }, "--kind call needs --function, the service function the snippet calls with its db and params: its export name (e.g. --function=mergeDuplicateDeals), from the service's domain module or --from"],
    [{ kind: 'call' as const, function: 'mergeDeals' }, '--function mergeDeals: @snippets/example-service/domain exports no function mergeDeals; its functions are activateFeatureForPartners, mergeDuplicateDeals, undoReconciliationMatch'],
    [{ kind: 'call' as const, function: 'merge-deals' }, "--function 'merge-deals' is not a JavaScript name"],
    [{ kind: 'call' as const, function: 'mergeDuplicateDeals', from: '@snippets/example-service/nope' }, '--from @snippets/example-service/nope: cannot be imported'],
    [{ function: 'mergeDuplicateDeals' }, '--function is for --kind=call (this is --kind=basic); add --kind=call or leave --function out'],
  ])('refuses %o and writes nothing', async (override, message) => {
    const before = tree.listChanges().length;
    await expect(snippetGenerator(tree, { name: 'merge-deals', repo: 'service-snippets', ...override })).rejects.toThrow(message);
    expect(tree.listChanges()).toHaveLength(before);
  });
});

describe('snippet generator, --kind=input', () => {
  let tree: Tree;
  const root = 'snippet-repos/payments-snippets';
  const read = (file: string) => tree.read(`${root}/${file}`, 'utf-8')!;
  const digest = { sha256: 'a'.repeat(64), rows: 1200, bytes: 48_000 };
  /** What `snippets input add` does: the input's digest in place of its null entry. */
  const approve = (id: string, name: string) => {
    const lock = readJson(tree, `${root}/snippets.lock`);
    tree.write(`${root}/snippets.lock`, JSON.stringify({ ...lock, inputs: { ...lock.inputs, [id]: { [name]: digest } } }));
  };
  beforeEach(async () => {
    tree = workspace();
    tree.write('libs/example-chat-service/package.json', JSON.stringify({ name: '@snippets/example-chat-service', version: '0.1.0' }));
    await snippetRepoGenerator(tree, { ...repo, service: '@snippets/example-chat-service', schemaFile: 'schema.sql', schemaVersion: 'none' });
  });

  it('writes the snippet, its test and fixture, a null lock entry and a README line; other kinds keep the inputs approved before', async () => {
    await snippetGenerator(tree, { name: 'close-accounts', repo: 'payments-snippets', kind: 'input' });
    const source = read('snippets/0001_close_accounts.ts');
    expect(source).toContain("import { csv, defineSnippet } from '@snippets/runner';");
    expect(source).toContain("accounts: csv({ columns: { id: 'text', reason: 'text' } }),");
    expect(source).toContain('for await (const row of inputs.accounts) {');
    const test = read('snippets/0001_close_accounts.test.ts');
    expect(test).toContain("const accounts = new URL('./fixtures/0001_close_accounts/accounts.csv', import.meta.url);");
    expect(test).toContain('await applySnippetFile(database, snippet, { inputs: { accounts } });');
    expect(read('snippets/fixtures/0001_close_accounts/accounts.csv')).toMatch(/^id,reason\nexample-101,[^\n]+\nexample-102,[^\n]+\nexample-103,[^\n]+\n$/);
    expect(readJson(tree, `${root}/snippets.lock`).inputs).toEqual({ '0001_close_accounts': { accounts: null } });

    approve('0001_close_accounts', 'accounts');
    await snippetGenerator(tree, { name: 'fix-emails', repo: 'payments-snippets' });
    expect(readJson(tree, `${root}/snippets.lock`).inputs).toEqual({ '0001_close_accounts': { accounts: digest } });

    // Another snippet reading an input of the same name: SNIPPETS_INPUTS must name it with its snippet.
    await snippetGenerator(tree, { name: 'purge-users', repo: 'payments-snippets', kind: 'input', table: 'User' });
    const lock = readJson(tree, `${root}/snippets.lock`);
    expect(lock.inputs).toEqual({ '0001_close_accounts': { accounts: digest }, '0003_purge_users': { accounts: null } });
    const sources = ['0001_close_accounts', '0002_fix_emails', '0003_purge_users'].map((id) => ({ id, checksum: sha256(read(`snippets/${id}.ts`)) }));
    expect(lock).toEqual(buildManifest(sources, lock.inputs));
    const readme = read('README.md');
    expect(readme).toContain(
      [
        '- `0001_close_accounts` reads `accounts`: until it has run, CI\'s `SNIPPETS_INPUTS` carries `accounts=s3://…/0001_close_accounts/accounts.csv` (or `https://…`).',
        '- `0003_purge_users` reads `accounts`: until it has run, CI\'s `SNIPPETS_INPUTS` carries `0003_purge_users/accounts=s3://…/0003_purge_users/accounts.csv` (or `https://…`).',
        INPUTS_MARK,
      ].join('\n'),
    );
    expect(readme.indexOf(INPUTS_MARK)).toBe(readme.lastIndexOf(INPUTS_MARK));
  });

  it("with --table, updates that table by the input's id column, typed as its key", async () => {
    await snippetGenerator(tree, { name: 'purge-users', repo: 'payments-snippets', kind: 'input', input: 'spam_users', table: 'User' });
    const source = read('snippets/0001_purge_users.ts');
    expect(source).toContain('import { user } from "@snippets/example-chat-service/schema";');
    expect(source).toContain('touches: [user],');
    expect(source).toContain("spam_users: csv({ columns: { id: 'uuid', reason: 'text' } }),");
    expect(source).toContain('.where(eq(user.id, row.id))');
    expect(read('snippets/0001_purge_users.test.ts')).toContain(".rejects.toThrow('row 1 of spam_users: its id is not in user');");
    expect(read('snippets/fixtures/0001_purge_users/spam_users.csv').split('\n')[1]).toMatch(/^00000000-0000-4000-8000-000000000101,/);
    // A bigserial key stays a string in the input, exact, and becomes the number drizzle's column takes.
    await snippetGenerator(tree, { name: 'refund-lines', repo: 'payments-snippets', kind: 'input', table: 'OrderLine' });
    const lines = read('snippets/0002_refund_lines.ts');
    expect(lines).toContain("accounts: csv({ columns: { id: 'bigint', reason: 'text' } }),");
    expect(lines).toContain('.where(eq(orderLine.id, Number(row.id)))');
  });

  it.each([
    [{ kind: 'input' as const, input: 'Accounts' }, "--input 'Accounts' is not valid; use a lower-case name of letters, digits and _ (at most 40 characters), e.g. --input=accounts"],
    [{ kind: 'input' as const, input: 'ops/accounts' }, "--input 'ops/accounts' is not valid"],
    [{ input: 'accounts' }, '--input is for --kind=input (this is --kind=basic); add --kind=input or leave --input out'],
    [{ kind: 'input' as const, table: 'membership' }, '--table membership: has a composite primary key (workspaceId, userId)'],
  ])('refuses %o and writes nothing', async (override, message) => {
    const before = tree.listChanges().length;
    await expect(snippetGenerator(tree, { name: 'close-accounts', repo: 'payments-snippets', ...override })).rejects.toThrow(message);
    expect(tree.listChanges()).toHaveLength(before);
  });

  it('lists in schema.json exactly the kinds the renderer knows', () => {
    const schema = JSON.parse(readFileSync(new URL('../src/generators/snippet/schema.json', import.meta.url), 'utf8'));
    expect([...schema.properties.kind.enum].sort()).toEqual([...SNIPPET_KINDS].sort());
    expect(schema.properties.kind['x-prompt'].items.map((i: { value: string }) => i.value).sort()).toEqual([...SNIPPET_KINDS].sort());
  });
});

describe('squash generator', () => {
  let tree: Tree;
  const root = 'snippet-repos/payments-snippets';
  const source = (id: string) => tree.read(`${root}/snippets/${id}.ts`, 'utf-8')!;
  const exportLedger = (states: Record<string, string>) =>
    tree.write('ledger.json', JSON.stringify({ repo: 'payments-snippets', snippets: Object.entries(states).map(([id, state]) => ({ id, state, checksum: sha256(source(id)) })) }));

  beforeEach(async () => {
    tree = workspace();
    await snippetRepoGenerator(tree, repo);
    for (const name of ['first-fix', 'second-fix', 'third-fix']) await snippetGenerator(tree, { name, repo: 'payments-snippets' });
  });

  it('folds applied snippets into one squash, archives them and updates snippets.lock', async () => {
    const checksums = ['0001_first_fix', '0002_second_fix'].map((id) => sha256(source(id)));
    exportLedger({ '0001_first_fix': 'applied', '0002_second_fix': 'baselined', '0003_third_fix': 'pending' });
    await squashGenerator(tree, { repo: 'payments-snippets', through: '0002_second_fix', ledger: 'ledger.json' });

    const squash = tree.read(`${root}/snippets/0004_squashed_0001_0002.ts`, 'utf-8')!;
    expect(squash).toContain('defineSquash({');
    expect(squash).toContain(`{ id: "0001_first_fix", checksum: "${checksums[0]}" }`);
    expect(squash).toContain(`{ id: "0002_second_fix", checksum: "${checksums[1]}" }`);
    expect(tree.exists(`${root}/snippets/0001_first_fix.ts`)).toBe(false);
    expect(tree.exists(`${root}/snippets/archive/0001_first_fix.ts`)).toBe(true);
    expect(tree.exists(`${root}/snippets/archive/0002_second_fix.test.ts`)).toBe(true);
    expect(Object.keys(readJson(tree, `${root}/snippets.lock`).snippets)).toEqual(['0003_third_fix', '0004_squashed_0001_0002']);
  });

  it("keeps the inputs' entries of the snippets left, and drops those of the folded ones", async () => {
    const lock = readJson(tree, `${root}/snippets.lock`);
    const digest = { sha256: 'b'.repeat(64), rows: 3, bytes: 90 };
    tree.write(`${root}/snippets.lock`, JSON.stringify({ ...lock, inputs: { '0001_first_fix': { accounts: digest }, '0003_third_fix': { accounts: null } } }));
    exportLedger({ '0001_first_fix': 'applied', '0002_second_fix': 'applied', '0003_third_fix': 'pending' });
    await squashGenerator(tree, { repo: 'payments-snippets', through: '0002_second_fix', ledger: 'ledger.json' });
    expect(readJson(tree, `${root}/snippets.lock`).inputs).toEqual({ '0003_third_fix': { accounts: null } });
  });

  it('by default folds the first snippets production has all run, and stops at the first it has not', async () => {
    exportLedger({ '0001_first_fix': 'applied', '0002_second_fix': 'applied', '0003_third_fix': 'pending' });
    await squashGenerator(tree, { repo: 'payments-snippets', ledger: 'ledger.json' });
    expect(tree.exists(`${root}/snippets/0004_squashed_0001_0002.ts`)).toBe(true);
    expect(tree.exists(`${root}/snippets/0003_third_fix.ts`)).toBe(true);
  });

  it.each([
    [{ through: '0009_nope' }, "--through '0009_nope' is not a snippet in snippets/ (the last one is 0003_third_fix)"],
    [{ through: '0003_third_fix' }, '0003_third_fix is pending in the ledger export, not applied; squash only what production has run'],
    [{ through: '0001_first_fix' }, "--through '0001_first_fix' folds only one snippet"],
    [{ ledger: 'missing.json' }, "--ledger 'missing.json' does not exist"],
    [{ repo: 'nope' }, "--repo 'nope' is not a snippet repo"],
  ])('refuses %o and writes nothing', async (override, message) => {
    exportLedger({ '0001_first_fix': 'applied', '0002_second_fix': 'applied', '0003_third_fix': 'pending' });
    const before = tree.listChanges().length;
    await expect(squashGenerator(tree, { repo: 'payments-snippets', ledger: 'ledger.json', ...override })).rejects.toThrow(message);
    expect(tree.listChanges()).toHaveLength(before);
  });

  it('refuses a snippet whose file differs from what production applied', async () => {
    exportLedger({ '0001_first_fix': 'applied', '0002_second_fix': 'applied' });
    tree.write(`${root}/snippets/0002_second_fix.ts`, `${source('0002_second_fix')}// edited\n`);
    await expect(squashGenerator(tree, { repo: 'payments-snippets', through: '0002_second_fix', ledger: 'ledger.json' })).rejects.toThrow(
      '0002_second_fix is changed in the ledger export, not applied',
    );
  });
});
