/**
 * `npm run bench -- test-database`: how long a snippet's test waits for its database, for
 * each example service and driver. "Built each time" is the way before the cache (a new
 * database, then the service's migrations or schema file applied to it); "cached" is
 * `openServiceTestDatabase`, which clones a template (PostgreSQL) or loads a snapshot
 * (PGlite) built once per schema. Medians of BENCH_RUNS opens after the first, which is
 * reported apart (it builds the cache when there is none).
 */
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { schemaFile } from '@snippets/example-chat-service/schema-file';
import { migrationsFolder } from '@snippets/example-service/migrations';
import { loadConfig } from '@snippets/runner/engine';
import postgres from 'postgres';
import { openServiceTestDatabase, openTestDatabase } from '@snippets/runner/testing';
import { buildServiceSchema } from '../libs/runner/src/service/service-migrations.ts';
import { serviceTemplateName } from '../libs/runner/src/service/service-schema-cache.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const SERVER = process.env.SNIPPETS_TEST_SERVER_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const ROOT = fileURLToPath(new URL('..', import.meta.url));

const SERVICES = {
  'example-service (drizzle migrations)': `{ migrationsFolder: ${JSON.stringify(migrationsFolder)} }`,
  'example-chat-service (schema file)': `{ schemaFile: ${JSON.stringify(schemaFile)}, schemaVersion: 'none' }`,
};

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The first open, then the median of RUNS more; each database is closed (dropped) before the next. */
async function measure(open: () => Promise<{ close(): Promise<void> }>): Promise<{ first: number; median: number }> {
  const samples: number[] = [];
  for (let i = 0; i <= RUNS; i++) {
    const start = performance.now();
    const database = await open();
    samples.push(performance.now() - start);
    await database.close();
  }
  return { first: samples[0]!, median: median(samples.slice(1)) };
}

async function repoFor(service: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-test-db-'));
  await symlink(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  await writeFile(path.join(dir, 'package.json'), JSON.stringify({ name: 'bench-repo', private: true, type: 'module' }));
  await writeFile(path.join(dir, 'snippets.config.ts'), `import { defineConfig } from '@snippets/runner';\nexport default defineConfig({ repo: 'bench', service: ${service} });\n`);
  return dir;
}

console.log(`snippet test databases: first open, then the median of ${RUNS}; ${os.cpus()[0]?.model}, ${os.cpus().length} cores, Node ${process.version}`);
console.log(`${'service'.padEnd(38)} ${'driver'.padEnd(9)} ${'built each time'.padStart(16)} ${'cached, first'.padStart(14)} ${'cached'.padStart(8)} ${'speed-up'.padStart(9)}`);
for (const [label, service] of Object.entries(SERVICES)) {
  const dir = await repoFor(service);
  try {
    const config = await loadConfig(dir);
    for (const driver of ['postgres', 'pglite'] as const) {
      const env = driver === 'postgres' ? { SNIPPETS_TEST_DATABASE_URL: SERVER } : {};
      const built = await measure(async () => {
        const database = await openTestDatabase(env);
        await buildServiceSchema(database.db, config.service!);
        return database;
      });
      // The cache is removed first, so "first" includes building it.
      await rm(path.join(ROOT, 'node_modules/.cache/snippets/test-databases'), { recursive: true, force: true });
      const server = postgres(SERVER, { max: 1, onnotice: () => {} });
      await server.unsafe(`drop database if exists ${await serviceTemplateName(config.service!)}`).finally(() => server.end());
      const cached = await measure(() => openServiceTestDatabase(dir, env));
      const row = [label.padEnd(38), driver.padEnd(9), `${built.median.toFixed(0)} ms`.padStart(16), `${cached.first.toFixed(0)} ms`.padStart(14), `${cached.median.toFixed(0)} ms`.padStart(8)];
      console.log(`${row.join(' ')} ${`${(built.median / cached.median).toFixed(1)}×`.padStart(9)}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
