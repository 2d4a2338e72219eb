/**
 * `npm run bench:rehearsal`: how long the gates take to set up a rehearsal database of
 * at least 1 GB, by cloning a template database versus restoring a pg_dump (custom
 * format, and directory format restored with 2 jobs). Uses the gates' own setup code.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { migrate, seed } from '@snippets/example-service';
import { restoreDump } from '../libs/gates/src/dumps.ts';
import { withScratchDatabase } from '../libs/gates/src/scratch-db.ts';

const exec = promisify(execFile);
const SERVER = process.env.SNIPPETS_TEST_SERVER_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const TARGET_BYTES = Number(process.env.BENCH_BYTES ?? 1.05 * 1024 ** 3);
const RUNS = Number(process.env.BENCH_RUNS ?? 2);

const urlOf = (name: string) => Object.assign(new URL(SERVER), { pathname: `/${name}` }).toString();
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

async function timed(runs: number, once: () => Promise<void>): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await once();
    samples.push(performance.now() - start);
  }
  return median(samples);
}

const source = `bench_rehearsal_${process.pid}`;
const admin = postgres(SERVER, { max: 1, onnotice: () => {} });
const work = await mkdtemp(path.join(os.tmpdir(), 'bench-rehearsal-'));
try {
  await admin.unsafe(`create database ${source}`);
  const client = postgres(urlOf(source), { max: 1, onnotice: () => {} });
  let size = 0;
  try {
    const db = drizzle({ client });
    await migrate(db as never);
    await seed(db as never);
    // Grow the bank statement history, the table such services keep for years, to the target size.
    while (size < TARGET_BYTES) {
      await client`insert into bank_account_entries (account_iban, amount, currency, booked_at, description, partner_id)
        select 'DE89370400440532013' || lpad((g % 1000)::text, 3, '0'), (g % 100000) / 100.0, 'EUR',
               timestamptz '2020-01-01' + g * interval '1 second', 'Transfer reference ' || md5(g::text) || ' ' || md5((g * 7)::text), null
        from generate_series(1, 500000) g`;
      size = Number((await client`select pg_database_size(current_database()) as size`)[0]!.size);
    }
    await client`vacuum analyze`;
    size = Number((await client`select pg_database_size(current_database()) as size`)[0]!.size);
  } finally {
    await client.end();
  }

  const custom = path.join(work, 'prod.dump');
  const directory = path.join(work, 'prod.dir');
  const dumpMs = await timed(1, async () => void (await exec('pg_dump', ['-Fc', '-f', custom, urlOf(source)])));
  await exec('pg_dump', ['-Fd', '-j', '2', '-f', directory, urlOf(source)]);

  const clone = await timed(RUNS, () => withScratchDatabase(SERVER, { template: source }, async () => {}));
  const restoreCustom = await timed(RUNS, () => withScratchDatabase(SERVER, {}, (scratch) => restoreDump(custom, 'custom', scratch.url)));
  const restoreParallel = await timed(RUNS, () =>
    withScratchDatabase(SERVER, {}, async (scratch) => void (await exec('pg_restore', ['--no-owner', '--no-privileges', '--exit-on-error', '-j', '2', '-d', scratch.url, directory]))),
  );

  console.log(`database ${(size / 1024 ** 3).toFixed(2)} GiB; pg_dump -Fc took ${(dumpMs / 1000).toFixed(1)} s; median of ${RUNS} runs, ${os.cpus().length} cores`);
  const rows = [
    ['template clone (baseline)', clone],
    ['pg_restore custom dump', restoreCustom],
    ['pg_restore -j 2 directory dump', restoreParallel],
  ] as const;
  for (const [label, ms] of rows) console.log(`${label.padEnd(32)} ${(ms / 1000).toFixed(2).padStart(8)} s  ${(ms / clone).toFixed(1).padStart(6)}× clone`);
} finally {
  await admin.unsafe(`drop database if exists ${source} with (force)`);
  await admin.end();
  await rm(work, { recursive: true, force: true });
}
