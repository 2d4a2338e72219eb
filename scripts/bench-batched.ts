/**
 * `npm run bench:batched`: a batched backfill over a large table against the same change
 * as one UPDATE (the baseline), with a concurrent single-row writer's latency during each,
 * the p99 batch transaction time, a row-by-row loop, and impact() against a rolled-back
 * DELETE. BENCH_ROWS sets the table size (default 5,000,000).
 */
import { mkdtemp, rm, symlink, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { auditFromEnv } from '../libs/runner/src/audit.ts';
import { openDatabase } from '../libs/runner/src/database/database.ts';
import { applySnippet, withRollback } from '../libs/runner/src/execution/executor.ts';
import { analyseImpact } from '../libs/runner/src/impact/impact.ts';
import { discoverSnippetFiles } from '../libs/runner/src/snippets/discovery.ts';
import { loadSnippets } from '../libs/runner/src/snippets/load-snippets.ts';
import { snippetStore } from '../libs/runner/src/store/snippet-store.ts';

const SERVER = process.env.SNIPPETS_TEST_SERVER_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const ROWS = Number(process.env.BENCH_ROWS ?? 5_000_000);
const LOOP_ROWS = 20_000;
const database = `bench_batched_${process.pid}`;
const url = Object.assign(new URL(SERVER), { pathname: `/${database}` }).toString();

const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((values.length * p) / 100))] ?? 0;

/** Single-row updates of random rows, every 10 ms, while `work` runs: the service's writes. */
async function withWriter<T>(table: string, work: () => Promise<T>): Promise<{ result: T; p99: number; max: number; writes: number }> {
  const writer = postgres(url, { max: 1, onnotice: () => {} });
  const latencies: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const id = 1 + Math.floor(Math.random() * ROWS);
      const start = performance.now();
      await writer.unsafe(`update ${table} set note = 'touched' where id = $1`, [id]);
      latencies.push(performance.now() - start);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  try {
    const result = await work();
    running = false;
    // A write that `work` blocked finishes only after it: wait for it, so it is counted.
    await loop;
    return { result, p99: percentile(latencies, 99), max: Math.max(0, ...latencies), writes: latencies.length };
  } finally {
    running = false;
    await loop;
    await writer.end();
  }
}

async function medianMs(work: () => Promise<unknown>): Promise<number> {
  await work();
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const start = performance.now();
    await work();
    times.push(performance.now() - start);
  }
  return percentile(times, 50);
}

/** A batched backfill of `table` as a snippet file, run by the runner's own executor. */
function backfillSnippet(table: string): string {
  return `import { defineSnippet } from '@snippets/runner';
export default defineSnippet({
  description: 'double every value', transaction: 'batched', touches: ['${table}'],
  async up({ batch, sql }) {
    await batch({ table: '${table}', where: sql\`doubled is null\`, size: 10000, targetMs: 50, async process({ rows, sql, from, to }) {
      await rows(sql\`update ${table} set doubled = value * 2 where id > \${from ?? 0} and id <= \${to}\`);
    } });
  },
});
`;
}

const admin = postgres(SERVER, { max: 1, onnotice: () => {} });
const repoDir = await mkdtemp(path.join(os.tmpdir(), 'bench-batched-'));
try {
  await admin.unsafe(`create database ${database}`);
  const client = postgres(url, { max: 1, onnotice: () => {} });
  for (const table of ['items_single', 'items_plain', 'items_batched', 'items_workers']) {
    await client.unsafe(`create table ${table} (id bigint primary key, value int not null, note text, doubled int)`);
    await client.unsafe(`insert into ${table} select g, g % 1000, null, null from generate_series(1, ${ROWS}) g`);
    await client.unsafe(`vacuum analyze ${table}`);
  }
  await client.unsafe(`create table items_loop (id bigint primary key, value int not null, note text, doubled int)`);
  await client.unsafe(`insert into items_loop select g, g % 1000, null, null from generate_series(1, ${LOOP_ROWS}) g`);
  // Every measured run starts just after a checkpoint, so none pays for another's dirty pages.
  const freshStart = () => client.unsafe('checkpoint');

  // Baseline: the whole change as one statement.
  await freshStart();
  const single = await withWriter('items_single', async () => {
    const start = performance.now();
    await client.unsafe('update items_single set doubled = value * 2');
    return performance.now() - start;
  });

  // Plain 10,000-row keyset batches, hand-written: what batching costs without the runner.
  await freshStart();
  const plainStart = performance.now();
  for (let from = '0'; ; ) {
    const to = await client.begin(async (tx) => {
      const [batch] = await tx.unsafe<{ to: string | null }[]>('select max(id) as to from (select id from items_plain where id > $1 and doubled is null order by id limit 10000) b', [from]);
      if (batch?.to) await tx.unsafe('update items_plain set doubled = value * 2 where id > $1 and id <= $2', [from, batch.to]);
      return batch?.to ?? null;
    });
    if (!to) break;
    from = to;
  }
  const plainMs = performance.now() - plainStart;

  await symlink(path.resolve('node_modules'), path.join(repoDir, 'node_modules'), 'dir');
  await writeFile(path.join(repoDir, 'package.json'), JSON.stringify({ type: 'module' }));
  await mkdir(path.join(repoDir, 'snippets'));
  await writeFile(path.join(repoDir, 'snippets/0001_double.ts'), backfillSnippet('items_batched'));
  await writeFile(path.join(repoDir, 'snippets/0002_double_with_workers.ts'), backfillSnippet('items_workers'));
  const [snippet, workersSnippet] = await loadSnippets(await discoverSnippetFiles(repoDir, 'snippets'));
  const db = await openDatabase({ driver: 'postgres', url, display: database });
  const secondWorker = await openDatabase({ driver: 'postgres', url, display: database });
  await snippetStore(db.db, 'bench').upgrade();
  const options = {
    repo: 'bench',
    audit: auditFromEnv(),
    timeouts: { statementMs: 600_000, lockMs: 10_000, runLockWaitMs: 0 },
    onLog: () => {},
    requireRepoLock: false,
    dryRun: false,
  };
  const batchTimes: number[] = [];
  let last = 0;
  await freshStart();
  const batched = await withWriter('items_batched', async () => {
    const start = performance.now();
    last = start;
    const onProgress = () => {
      const now = performance.now();
      batchTimes.push(now - last);
      last = now;
    };
    await applySnippet(db.db, snippet!, { ...options, onProgress });
    return performance.now() - start;
  });
  await freshStart();
  const withWorkers = await withWriter('items_workers', async () => {
    const start = performance.now();
    await applySnippet(db.db, workersSnippet!, { ...options, workers: [secondWorker.db] });
    return performance.now() - start;
  });
  await secondWorker.close();

  // A row-by-row loop, as a hand-written script would do it.
  const loopStart = performance.now();
  const ids = await client.unsafe<{ id: string }[]>('select id from items_loop order by id');
  for (const { id } of ids) await client.unsafe('update items_loop set doubled = value * 2 where id = $1', [id]);
  const loopRate = LOOP_ROWS / ((performance.now() - loopStart) / 1000);

  // impact() against the real DELETE it predicts, rolled back.
  await client.unsafe(`create table parents (id int primary key)`);
  await client.unsafe(`create table children (id int primary key, parent_id int references parents on delete cascade)`);
  await client.unsafe(`create index on children (parent_id)`);
  await client.unsafe(`insert into parents select generate_series(1, 100000)`);
  await client.unsafe(`insert into children select g, (g % 100000) + 1 from generate_series(1, 300000) g`);
  await client.unsafe(`analyze parents; analyze children`);
  const where = sql`id <= 10000`;
  // Both are a few tens of milliseconds: one warm-up each, then the median of five.
  const impactMs = await medianMs(() => withRollback(db.db, (tx) => analyseImpact(tx, 'parents', where)));
  const deleteMs = await medianMs(() => withRollback(db.db, (tx) => tx.execute(sql`delete from parents where ${where}`)));
  await db.close();
  await client.end();

  const rate = (ms: number) => ROWS / (ms / 1000);
  const singleRate = rate(single.result);
  const figure = (label: string, rowsPerSecond: number) =>
    `${label.padEnd(31)}${Math.round(rowsPerSecond).toLocaleString('en').padStart(10)} rows/s   ${(rowsPerSecond / singleRate).toFixed(2)}× baseline`;
  const writer = (w: { p99: number; max: number; writes: number }) => `writer p99 ${w.p99.toFixed(1)} ms, max ${w.max.toFixed(0)} ms over ${w.writes} writes`;
  console.log(`${ROWS.toLocaleString('en')} rows, ${os.cpus().length} cores`);
  console.log(`${figure('single UPDATE (baseline)', singleRate)}   ${writer(single)}`);
  console.log(figure('plain 10,000-row keyset loop', rate(plainMs)));
  console.log(`${figure('batched backfill', rate(batched.result))}   ${writer(batched)}`);
  console.log(`${figure('batched, --workers 2', rate(withWorkers.result))}   ${writer(withWorkers)}`);
  console.log(`batched p99 batch transaction  ${percentile(batchTimes, 99).toFixed(1)} ms over ${batchTimes.length} batches`);
  console.log(`row-by-row loop                ${Math.round(loopRate).toLocaleString('en').padStart(10)} rows/s   batched is ${(rate(batched.result) / loopRate).toFixed(0)}× faster`);
  console.log(`impact() vs rolled-back DELETE ${impactMs.toFixed(1)} ms vs ${deleteMs.toFixed(1)} ms (medians of 5)   ${(impactMs / deleteMs).toFixed(2)}×`);
} finally {
  await admin.unsafe(`drop database if exists ${database} with (force)`);
  await admin.end();
  await rm(repoDir, { recursive: true, force: true });
}
