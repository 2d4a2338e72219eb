import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { migrate, seed } from '@snippets/example-service';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';

const exec = promisify(execFile);
export const SERVER_URL = process.env.SNIPPETS_TEST_SERVER_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const WORKSPACE = fileURLToPath(new URL('../../../..', import.meta.url));
export const GATES_CLI = fileURLToPath(new URL('../../bin/snippet-gates.js', import.meta.url));
export const SNIPPETS_CLI = path.join(WORKSPACE, 'node_modules/.bin/snippets');

export function urlOf(name: string): string {
  const url = new URL(SERVER_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function admin<T>(work: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(SERVER_URL, { max: 1, onnotice: () => {} });
  try {
    return await work(sql);
  } finally {
    await sql.end();
  }
}

/** The gates CLIs this test file started: their scratch databases are named by their pid. */
const gatesPids = new Set<number>();

/** Notes a gates CLI started without runGates, so its scratch databases count as this file's. */
export function trackGatesProcess(pid: number | undefined): void {
  if (pid !== undefined) gatesPids.add(pid);
}

/**
 * The scratch databases (`snippet_gates_<pid>_…`) of the gates CLIs this file started that
 * are still there: other test files rehearse at the same time, with their own.
 */
export async function scratchDatabasesLeft(): Promise<string[]> {
  const names = await admin(async (sql) => (await sql`select datname from pg_database where datname like 'snippet_gates_%'`).map((r) => r.datname as string));
  return names.filter((name) => gatesPids.has(Number(/^snippet_gates_(\d+)_/.exec(name)?.[1])));
}

/**
 * The example service's database, migrated and seeded on the server, and pg_dumps of it in
 * the three formats: what production's dumps look like to the gates.
 */
export async function exampleServiceDumps(dir: string): Promise<{ database: string; custom: string; plain: string; directory: string; dispose(): Promise<void> }> {
  const database = `gates_source_${randomBytes(5).toString('hex')}`;
  await admin((sql) => sql.unsafe(`create database ${database}`));
  const client = postgres(urlOf(database), { max: 1, onnotice: () => {} });
  try {
    const db = drizzle({ client });
    await migrate(db as never);
    await seed(db as never);
  } finally {
    await client.end();
  }
  const custom = path.join(dir, 'prod.dump');
  const plain = path.join(dir, 'prod.sql');
  const directory = path.join(dir, 'prod.dir');
  await exec('pg_dump', ['-Fc', '-f', custom, urlOf(database)]);
  await exec('pg_dump', ['-Fp', '-f', plain, urlOf(database)]);
  await exec('pg_dump', ['-Fd', '-f', directory, urlOf(database)]);
  return { database, custom, plain, directory, dispose: () => admin((sql) => sql.unsafe(`drop database if exists ${database} with (force)`)).then(() => undefined) };
}

export interface FixtureRepo {
  dir: string;
  write(file: string, content: string): Promise<void>;
  remove(file: string): Promise<void>;
  dispose(): Promise<void>;
}

/** A snippet repo for the example service in a temporary directory. */
export async function createRepo(snippets: Record<string, string>): Promise<FixtureRepo> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gates-repo-'));
  await symlink(path.join(WORKSPACE, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  const repo: FixtureRepo = {
    dir,
    write: async (file, content) => {
      await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
      await writeFile(path.join(dir, file), content);
    },
    remove: (file) => rm(path.join(dir, file), { force: true }),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
  await repo.write('package.json', JSON.stringify({ name: 'gates-fixture', private: true, type: 'module', scripts: { test: 'vitest run' } }));
  await repo.write('vitest.config.ts', `import { defineConfig } from 'vitest/config';\nexport default defineConfig({ test: { include: ['snippets/*.test.ts'], testTimeout: 60000, hookTimeout: 60000 } });\n`);
  await repo.write(
    'snippets.config.ts',
    `import path from 'node:path';
import { defineConfig, packageDir } from '@snippets/runner';
export default defineConfig({
  repo: 'gates-fixture',
  service: { migrationsFolder: path.join(packageDir('@snippets/example-service', import.meta.url), 'drizzle') },
});
`,
  );
  for (const [name, source] of Object.entries(snippets)) await repo.write(`snippets/${name}`, source);
  await exec(process.execPath, [SNIPPETS_CLI, 'manifest'], { cwd: dir });
  return repo;
}

/** A snippet on the example service: `up` and friends are given as source text. */
export function snippet(fields: { description?: string; dependsOn?: string[]; touches: string[]; up: string; verify?: string; down?: string; requires?: string[] }): string {
  return `import { defineSnippet } from '@snippets/runner';

export default defineSnippet({
  description: ${JSON.stringify(fields.description ?? 'a data fix')},
  ${fields.dependsOn ? `dependsOn: ${JSON.stringify(fields.dependsOn)},` : ''}
  ${fields.requires ? `requires: { migrations: ${JSON.stringify(fields.requires)} },` : ''}
  touches: ${JSON.stringify(fields.touches)},
  async up({ rows, sql }) { ${fields.up} },
  ${fields.verify ? `async verify({ rows, sql }) { ${fields.verify} },` : ''}
  ${fields.down ? `async down({ rows, sql }) { ${fields.down} },` : ''}
});
`;
}

export interface GatesRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * This process's environment without its colour settings, plus `extra`: the child gets
 * the colour environment its test means. vitest sets FORCE_COLOR in its workers, and with a
 * NO_COLOR beside it Node warns on every child's stderr.
 */
export function childEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const { NO_COLOR: _noColor, FORCE_COLOR: _forceColor, ...inherited } = process.env;
  return { ...inherited, ...extra };
}

export function runGates(args: string[], cwd: string, env: Record<string, string | undefined> = {}): Promise<GatesRun> {
  const fullEnv = childEnv({ NO_COLOR: '1', DATABASE_URL: SERVER_URL, ...env });
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [GATES_CLI, ...args], { cwd, env: fullEnv, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
    trackGatesProcess(child.pid);
  });
}
