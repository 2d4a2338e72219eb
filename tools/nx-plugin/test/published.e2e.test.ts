import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { migrate, seed } from '@snippets/example-service';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishPackages, registryEnv, startLocalRegistry, type LocalRegistry } from '../../../scripts/local-registry.ts';

/**
 * The published packages, used the way a platform team would: installed from a registry
 * (a real verdaccio on loopback) into directories outside this workspace, with a PATH and
 * environment that hold nothing of it. Only the production database and its dump are made
 * with the workspace's example service, as the fixture the user already has.
 */
const exec = promisify(execFile);
const WORKSPACE = fileURLToPath(new URL('../../..', import.meta.url));
const SERVER_URL = process.env.SNIPPETS_TEST_SERVER_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REPO = 'orders-snippets';
const OLD_VERSION = '0.0.9';

interface Result {
  code: number;
  output: string;
}

let registry: LocalRegistry;
let tmp: string;
let workspace: string;
let extracted: string;
let newPlugin: { name: string; version: string };

/** The environment of a machine that never saw this workspace: no bin folder of it on PATH, no npm_config_* of an outer npm. */
function outsideEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const { FORCE_COLOR: _color, NODE_PATH: _path, NODE_OPTIONS: _options, ...env } = registryEnv(registry);
  const PATH = env.PATH!.split(path.delimiter).filter((dir) => !dir.includes('node_modules')).join(path.delimiter);
  // Its own npm cache too: npx must fetch what this registry serves, not a package of an earlier run.
  return { ...env, PATH, npm_config_cache: path.join(tmp, 'npm-cache'), NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', CI: 'true', NO_COLOR: '1', FORCE_COLOR: '0', ...extra };
}

function sh(command: string, args: string[], cwd: string, extra: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env: outsideEnv(extra), maxBuffer: 32 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, output: `${stdout}${stderr}` });
    });
  });
}

/** What npm installed and from where: every package of the lockfile must come from `registryUrl`. */
async function lockedSources(dir: string): Promise<{ fromElsewhere: string[]; snippets: string[] }> {
  const lock = JSON.parse(await readFile(path.join(dir, 'package-lock.json'), 'utf8')) as { packages: Record<string, { resolved?: string; link?: boolean; version?: string }> };
  const installed = Object.entries(lock.packages).filter(([key]) => key.startsWith('node_modules/') || key.includes('/node_modules/'));
  return {
    fromElsewhere: installed.filter(([, entry]) => entry.link || !entry.resolved?.startsWith(registry.url)).map(([key]) => key),
    snippets: installed.filter(([key]) => /^node_modules\/@snippets\/[^/]+$/.test(key)).map(([key, entry]) => `${key.slice('node_modules/'.length)}@${entry.version}`).sort(),
  };
}

/** The plugin as an older release had it: other Makefile wording, another README heading, no .dockerignore. */
async function olderPlugin(dir: string): Promise<string> {
  await cp(path.join(WORKSPACE, 'dist/tools/nx-plugin'), dir, { recursive: true });
  const files = path.join(dir, 'src/generators/snippet-repo/files');
  const edit = async (file: string, from: string, to: string) => {
    const text = await readFile(path.join(files, file), 'utf8');
    expect(text).toContain(from);
    await writeFile(path.join(files, file), text.replace(from, to));
  };
  await edit('Makefile__tmpl__', '## add the next snippet and its test', '## add a snippet');
  await edit('README.md__tmpl__', '# <%= name %>\n', '# <%= name %> (snippets)\n');
  await rm(path.join(files, '__dot__dockerignore__tmpl__'));
  const manifest = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8'));
  await writeFile(path.join(dir, 'package.json'), JSON.stringify({ ...manifest, version: OLD_VERSION }, null, 2));
  return dir;
}

describe('the published packages, outside the workspace', () => {
  beforeAll(async () => {
    await exec('npm', ['run', 'build:packages'], { cwd: WORKSPACE });
    tmp = await realpath(await mkdtemp(path.join(os.tmpdir(), 'snippets-published-')));
    newPlugin = JSON.parse(await readFile(path.join(WORKSPACE, 'dist/tools/nx-plugin/package.json'), 'utf8'));
    registry = await startLocalRegistry();
    const old = await olderPlugin(path.join(tmp, 'older-plugin'));
    // The older plugin first, so the current one is `latest`.
    await publishPackages(registry, [old, ...['libs/runner', 'libs/gates', 'libs/example-service', 'tools/nx-plugin'].map((root) => path.join(WORKSPACE, 'dist', root))]);
  }, 300_000);
  afterAll(async () => {
    await registry?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('a brand-new Nx workspace installs an older plugin from the registry and generates a snippet repo and a snippet', async () => {
    workspace = path.join(tmp, 'acme');
    await mkdir(workspace);
    await writeFile(
      path.join(workspace, 'package.json'),
      JSON.stringify({ name: 'acme', private: true, dependencies: { '@snippets/example-service': '^0.1.0' }, devDependencies: { nx: '22.7.12', '@snippets/nx-plugin': OLD_VERSION } }, null, 2),
    );
    await writeFile(path.join(workspace, 'nx.json'), JSON.stringify({ analytics: false, useDaemonProcess: false }, null, 2));
    const install = await sh('npm', ['install'], workspace);
    expect(install.code, install.output).toBe(0);
    const sources = await lockedSources(workspace);
    expect(sources.fromElsewhere).toEqual([]);
    expect(sources.snippets).toEqual(['@snippets/example-service@0.1.0', `@snippets/nx-plugin@${OLD_VERSION}`, '@snippets/runner@0.1.0']);
    // Real installed files, not links into this workspace.
    expect(await realpath(path.join(workspace, 'node_modules/@snippets/nx-plugin'))).toBe(path.join(workspace, 'node_modules/@snippets/nx-plugin'));

    const created = await sh('npx', ['--no-install', 'nx', 'g', '@snippets/nx-plugin:snippet-repo', REPO, '--service=@snippets/example-service', '--serviceImage=ghcr.io/acme/example-service', '--no-interactive'], workspace);
    expect(created.output).toContain(`CREATE snippet-repos/${REPO}/snippets.config.ts`);
    expect(created.code).toBe(0);
    const added = await sh('npx', ['--no-install', 'nx', 'g', '@snippets/nx-plugin:snippet', 'fix-order-currency', `--repo=${REPO}`, '--no-interactive'], workspace);
    expect(added.output).toContain(`CREATE snippet-repos/${REPO}/snippets/0001_fix_order_currency.ts`);
    expect(added.code).toBe(0);

    const repo = path.join(workspace, 'snippet-repos', REPO);
    const record = JSON.parse(await readFile(path.join(repo, 'snippets-template.json'), 'utf8'));
    expect(record.template).toBe(`@snippets/nx-plugin@${OLD_VERSION}`);
    const manifest = JSON.parse(await readFile(path.join(repo, 'package.json'), 'utf8'));
    expect(manifest.dependencies).toEqual({ '@snippets/runner': '^0.1.0', '@snippets/gates': '^0.1.0', '@snippets/example-service': '^0.1.0' });
  });

  /**
   * A team's own Makefile target (at the end of a file the template changes near the top),
   * then `update`: the template's changes arrive, the repo's snippets, lock and edit stay.
   */
  async function expectUpdateKeepsOwnWork(repo: string, update: () => Promise<Result>): Promise<void> {
    const snippet = await readFile(path.join(repo, 'snippets/0001_fix_order_currency.ts'), 'utf8');
    const lock = await readFile(path.join(repo, 'snippets.lock'), 'utf8');
    const ownTarget = '\nseed-local: ## our own: seed the local database\n\tnpx tsx scripts/seed-local.ts\n';
    await writeFile(path.join(repo, 'Makefile'), `${await readFile(path.join(repo, 'Makefile'), 'utf8')}${ownTarget}`);

    const updated = await update();
    expect(updated.code, updated.output).toBe(0);
    expect(updated.output).toContain('updated: README.md');
    expect(updated.output).toContain('added: .dockerignore');
    expect(updated.output).toContain('merged: Makefile');
    expect(updated.output).not.toContain('conflicts');
    expect(await readFile(path.join(repo, 'README.md'), 'utf8')).toMatch(new RegExp(`^# ${REPO}\\n`));
    const makefile = await readFile(path.join(repo, 'Makefile'), 'utf8');
    expect(makefile).toContain('## add the next snippet and its test');
    expect(makefile.endsWith(ownTarget)).toBe(true);
    expect(await readFile(path.join(repo, 'snippets/0001_fix_order_currency.ts'), 'utf8')).toBe(snippet);
    expect(await readFile(path.join(repo, 'snippets.lock'), 'utf8')).toBe(lock);
    expect(JSON.parse(await readFile(path.join(repo, 'snippets-template.json'), 'utf8')).template).toBe(`@snippets/nx-plugin@${newPlugin.version}`);
  }

  it('extracted on the older template, the repo is brought up to date in its own repository, keeping its snippets and edits', async () => {
    extracted = path.join(tmp, REPO);
    const extract = await sh('npx', ['--no-install', 'snippets-extract', REPO, extracted, '--registry', registry.url], workspace);
    expect(extract.code, extract.output).toBe(0);
    expect(await readFile(path.join(extracted, '.npmrc'), 'utf8')).toBe(`registry=${registry.url}\n`);
    expect((await sh('git', ['status', '--porcelain'], extracted)).output).toBe('');

    // The repo has no Nx: the current plugin runs once through npx, as `copier update` would.
    await expectUpdateKeepsOwnWork(extracted, () => sh('npx', ['--yes', '-p', `@snippets/nx-plugin@${newPlugin.version}`, 'snippets-update-repo'], extracted));
    const changed = (await sh('git', ['status', '--porcelain'], extracted)).output.split('\n').filter(Boolean).sort();
    expect(changed).toEqual([' M Makefile', ' M README.md', ' M snippets-template.json', '?? .dockerignore']);
    expect((await sh('git', ['-c', 'user.name=Dev', '-c', 'user.email=dev@example.com', 'commit', '-qam', 'Update to the current snippet repo template'], extracted)).code).toBe(0);
  });

  it('in the workspace, the repo the older template made is brought up to date, keeping its snippets and its own edits', async () => {
    const upgrade = await sh('npm', ['install', '--save-dev', '--save-exact', `@snippets/nx-plugin@${newPlugin.version}`], workspace);
    expect(upgrade.code, upgrade.output).toBe(0);
    // The generator fetches the older release from the registry npm is configured with.
    await expectUpdateKeepsOwnWork(path.join(workspace, 'snippet-repos', REPO), () =>
      sh('npx', ['--no-install', 'nx', 'g', '@snippets/nx-plugin:update-repo', `--repo=${REPO}`, '--no-interactive'], workspace),
    );
  });

  it('the extracted repo installs from the registry alone, adds a snippet with plop, passes its tests and gates on a dump, and runs on PostgreSQL', async () => {
    // Only the repo's own .npmrc says where packages come from: the user config is empty.
    const emptyNpmrc = path.join(tmp, 'empty-npmrc');
    await writeFile(emptyNpmrc, '');
    const install = await sh('npm', ['install'], extracted, { NPM_CONFIG_USERCONFIG: emptyNpmrc });
    expect(install.code, install.output).toBe(0);
    const sources = await lockedSources(extracted);
    expect(sources.fromElsewhere).toEqual([]);
    expect(sources.snippets).toEqual(['@snippets/example-service@0.1.0', '@snippets/gates@0.1.0', '@snippets/runner@0.1.0']);

    const plop = await sh('npx', ['--no-install', 'plop', 'snippet', 'settle-orders'], extracted);
    expect(plop.code, plop.output).toBe(0);
    expect(plop.output).toContain('0002_settle_orders');
    const tests = await sh('npm', ['test'], extracted);
    expect(tests.output).toMatch(/Tests\s+2 passed/);
    expect(tests.code).toBe(0);

    const database = `published_e2e_${randomBytes(5).toString('hex')}`;
    const admin = postgres(SERVER_URL, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${database}`);
    try {
      const url = new URL(SERVER_URL);
      url.pathname = `/${database}`;
      const client = postgres(url.toString(), { max: 1, onnotice: () => {} });
      await (async () => {
        const db = drizzle({ client });
        await migrate(db as never);
        await seed(db as never);
      })().finally(() => client.end());
      const dump = path.join(tmp, 'prod.dump');
      await exec('pg_dump', ['-Fc', '-f', dump, url.toString()]);

      // The gates rehearse on scratch databases of the server; the run goes to "production".
      const gates = await sh('npx', ['--no-install', 'snippet-gates', 'check', '--dump', dump, '--report-dir', 'reports'], extracted, { DATABASE_URL: SERVER_URL });
      expect(gates.output).toContain('all gates passed');
      expect(gates.code).toBe(0);
      const run = await sh('npx', ['--no-install', 'snippets', 'run', '--expect', '0001_fix_order_currency,0002_settle_orders'], extracted, { DATABASE_URL: url.toString() });
      expect(run.output).toContain('applied 2 snippet(s)');
      expect(run.code).toBe(0);
      const status = JSON.parse((await sh('npx', ['--no-install', 'snippets', 'status', '--json'], extracted, { DATABASE_URL: url.toString() })).output);
      expect(status.repo).toBe(REPO);
      expect(status.snippets.map((s: { id: string; state: string }) => `${s.id}:${s.state}`)).toEqual(['0001_fix_order_currency:applied', '0002_settle_orders:applied']);
    } finally {
      await admin.unsafe(`drop database if exists ${database} with (force)`);
      await admin.end();
    }
  });
});
