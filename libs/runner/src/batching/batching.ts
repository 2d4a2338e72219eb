import { sql, type SQL, type SQLWrapper } from 'drizzle-orm';
import { BatchSizer } from './batch-size.ts';
import type { BatchKey, BatchResult, BatchSpec, BatchTuning, SnippetDb } from '../snippets/define-snippet.ts';
import { queryRows } from '../database/queries.ts';
import { describeCause, RunInterrupted, SafetyRefusal, SnippetFailed } from '../errors.ts';
import type { TableChanges } from '../checks/change-counts.ts';
import { asBatchKey, splitKeyRanges, unusableKey } from './key-ranges.ts';
import { walkRanges, type KeyRange, type WalkProgress } from '../store/walk-ranges.ts';
import { pgErrorCode } from '../database/pg-errors.ts';
import { columnName, describeTableInput, tableName, tableRef, type QualifiedTable } from '../snippets/table-names.ts';

const RETRYABLE = new Set(['55P03', '57014', '40P01', '40001']); // lock timeout, statement timeout, deadlock, serialization
const MIN_SIZE = 10;
const MAX_SIZE = 100_000;
/** How long a worker with no free range waits before looking again: others hold the rest. */
const IDLE_MS = 100;

/** How one process takes part in a batched snippet's walks. */
export interface BatchRunner {
  repo: string;
  snippetId: string;
  /** `help`: this process joins another runner's walks; it never records the snippet. */
  role: 'run' | 'help';
  /** Walk names used by this run's `up`, so one name is never walked twice. */
  walked: Set<string>;
  /** This process's connections, each working ranges concurrently; the first opens walks. */
  workers: SnippetDb[];
  /** Runs one batch transaction on `db` (timeouts; touches check after `work`); `changes()` is what it changed so far. */
  transaction<T>(db: SnippetDb, work: (tx: SnippetDb, changes: () => Promise<TableChanges>) => Promise<T>): Promise<T>;
  onProgress(progress: BatchProgress): void;
  log(message: string): void;
  /** Aborted, each worker stops after the batch under way, with RunInterrupted: finished batches are kept. */
  signal?: AbortSignal;
}

export interface BatchProgress {
  snippetId: string;
  walk: string;
  /** Rows done by every worker of the walk, in any process. */
  rows: number;
  total: number;
  batches: number;
  /** This process's rate. */
  rowsPerSecond: number;
  /** Rows in the batch that just committed, done by this process. */
  batchRows: number;
}

/** batch() in a helper whose run has finished (its checkpoint is gone): nothing is left to do. */
export class RunFinished extends Error {
  constructor(snippetId: string) {
    super(`${snippetId}: the checkpoint is gone; another runner finished this snippet`);
  }
}

/** What one batch read and did: its rows, the last key (null when none) and whether its range is done. */
export interface BatchStep {
  count: number;
  last: BatchKey | null;
  done: boolean;
}

/** A walk over a table's keys or an input's rows, as the workers drive it. */
export interface Walk {
  name: string;
  spec: BatchTuning;
  startedAt: number;
  /** Rows this process did in this walk, for its rate. */
  processed: number;
  /** Set when a worker fails, so the others stop after their current batch. */
  stopped: boolean;
  /** Checks the walk can go, and splits it into ranges: run by the first worker to get there. */
  split(tx: SnippetDb): Promise<KeyRange[]>;
  /** Reads the next batch of a range after `from`, up to `hi`, and runs the snippet's process on it. */
  step(tx: SnippetDb, from: BatchKey | null, hi: BatchKey | null, size: number): Promise<BatchStep>;
}

interface TableWalk {
  table: QualifiedTable;
  /** How the snippet named the table, for a did-you-mean. */
  spelled: string;
  keyName: string;
  key: SQL;
  where: SQL;
  spec: BatchSpec;
}

type BatchOutcome = { kind: 'idle'; open: number } | { kind: 'batch'; range: number; count: number; progress: Pick<WalkProgress, 'rows' | 'batches' | 'total'> };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Finds the walk's ranges, splitting the key space when this is the first worker to get
 * here. Undefined when the checkpoint is gone: the run finished.
 */
async function openWalk(runner: BatchRunner, walk: Walk): Promise<WalkProgress | undefined> {
  return runner.transaction(runner.workers[0]!, async (tx) => walkRanges(tx, runner.repo, runner.snippetId).open(walk.name, () => walk.split(tx)));
}

async function waitUntilHealthy(walk: Walk, runner: BatchRunner): Promise<void> {
  const { spec } = walk;
  if (!spec.healthCheck) return;
  for (let wait = 500; !walk.stopped; wait = Math.min(wait * 2, 30_000)) {
    const outcome = await spec.healthCheck();
    const ok = typeof outcome === 'boolean' ? outcome : outcome.ok;
    if (ok) return;
    const why = typeof outcome === 'object' && outcome.message ? `: ${outcome.message}` : '';
    runner.log(`health check failed${why}; pausing ${wait} ms`);
    await sleep(wait);
  }
}

/**
 * The next batch of a range after `from`: its row count and last key. A full batch is one
 * index scan that stops at the size-th key; only a range's last, partial batch counts.
 */
async function nextBatch(tx: SnippetDb, walk: TableWalk, from: BatchKey | null, hi: BatchKey | null, size: number): Promise<{ count: number; last: BatchKey | null }> {
  const lower = from === null ? sql`true` : sql`${walk.key} > ${from}`;
  const upper = hi === null ? sql`true` : sql`${walk.key} <= ${hi}`;
  const rows = sql`from ${tableRef(walk.table)} where ${lower} and ${upper} and (${walk.where})`;
  const [full] = await queryRows<{ k: BatchKey | bigint }>(tx, sql`select ${walk.key} as k ${rows} order by ${walk.key} offset ${size - 1} limit 1`);
  if (full) return { count: size, last: asBatchKey(full.k) };
  const [partial] = await queryRows<{ n: number; k: BatchKey | bigint | null }>(
    tx,
    sql`select (select count(*)::int ${rows}) as n, (select ${walk.key} ${rows} order by ${walk.key} desc limit 1) as k`,
  );
  return { count: partial?.n ?? 0, last: partial?.k === null || partial?.k === undefined ? null : asBatchKey(partial.k) };
}

/**
 * One batch: claims a free range (the one this worker had, if still free), takes the next
 * `size` keys after its cursor, runs `process`, and moves the cursor in the same
 * transaction, so the work and the checkpoint commit together or not at all. The range
 * stays locked until then; a killed worker's lock goes with its connection.
 */
async function oneBatch(tx: SnippetDb, changes: () => Promise<TableChanges>, walk: Walk, runner: BatchRunner, preferred: number, size: number): Promise<BatchOutcome> {
  const ranges = walkRanges(tx, runner.repo, runner.snippetId);
  const range = await ranges.claim(walk.name, preferred);
  if (!range) return { kind: 'idle', open: (await ranges.progress(walk.name)).open };

  const { count, last, done } = await walk.step(tx, range.cursor ?? range.lo, range.hi, size);
  const progress = await ranges.advance(range, { last, rows: count, changes: count ? await changes() : {}, done });
  return { kind: 'batch', range: range.rangeNo, count, progress };
}

/**
 * A worker: batch after batch until no range is left open. The size adapts toward
 * `targetMs` (see BatchSizer); a batch that hits a lock or statement timeout is retried
 * with half the size.
 */
async function workRanges(db: SnippetDb, index: number, walk: Walk, runner: BatchRunner): Promise<void> {
  const { spec } = walk;
  const sizer = new BatchSizer({ initial: spec.size ?? 1000, min: MIN_SIZE, max: Math.max(MIN_SIZE, spec.maxSize ?? MAX_SIZE), targetMs: spec.targetMs ?? 200 });
  let preferred = index;
  let attempt = 0;
  while (!walk.stopped) {
    if (runner.signal?.aborted) {
      walk.stopped = true;
      throw new RunInterrupted(`${runner.snippetId}: interrupted during ${walk.name}, after its batches so far; they are kept, run again to resume`, { subject: runner.snippetId });
    }
    await waitUntilHealthy(walk, runner);
    if (walk.stopped) return;
    const started = performance.now();
    const size = sizer.size;
    let outcome: BatchOutcome;
    try {
      outcome = await runner.transaction(db, (tx, changes) => oneBatch(tx, changes, walk, runner, preferred, size));
    } catch (error) {
      const code = pgErrorCode(error);
      if (!code || !RETRYABLE.has(code) || attempt >= (spec.maxRetries ?? 5)) {
        walk.stopped = true;
        if (error instanceof SnippetFailed || error instanceof SafetyRefusal || error instanceof RunInterrupted) throw error;
        throw new SnippetFailed(`${runner.snippetId}: a batch of ${walk.name} failed: ${describeCause(error)}; finished batches are kept, run again to resume`, runner.snippetId, 'up', {
          cause: error,
        });
      }
      attempt++;
      const smaller = sizer.halve();
      const backoff = 250 * 2 ** (attempt - 1);
      runner.log(`${walk.name}: batch hit ${describeCause(error)}; retry ${attempt} with ${smaller} rows in ${backoff} ms`);
      await sleep(backoff);
      continue;
    }
    attempt = 0;
    if (outcome.kind === 'idle') {
      if (outcome.open === 0) return;
      await sleep(IDLE_MS);
      continue;
    }
    preferred = outcome.range;
    sizer.observe(outcome.count, performance.now() - started, outcome.count === size);
    walk.processed += outcome.count;
    const { rows, total, batches } = outcome.progress;
    const seconds = (performance.now() - walk.startedAt) / 1000;
    runner.onProgress({ snippetId: runner.snippetId, walk: walk.name, rows, total: Math.max(total, rows), batches, rowsPerSecond: walk.processed / Math.max(seconds, 0.001), batchRows: outcome.count });
    if (spec.pauseMs) await sleep(spec.pauseMs);
  }
}

/** A walk of `spec.table` in key order. */
export function tableWalk(spec: BatchSpec): Walk {
  const table = tableName(spec.table, 'batch() table');
  const keyName = columnName(spec.key ?? 'id', table, 'batch() key');
  const walk: TableWalk = { table, spelled: describeTableInput(spec.table), keyName, key: sql`${sql.identifier(keyName)}`, where: spec.where ?? sql`true`, spec };
  return {
    // A string keeps naming the walk as it did before tables could be drizzle objects.
    name: spec.name ?? (typeof spec.table === 'string' ? spec.table : table),
    spec,
    startedAt: performance.now(),
    processed: 0,
    stopped: false,
    async split(tx) {
      const unusable = await unusableKey(tx, walk.table, walk.keyName, walk.spelled);
      if (unusable) throw new Error(unusable);
      return splitKeyRanges(tx, walk.table, walk.keyName, walk.where);
    },
    async step(tx, from, hi, size) {
      const { count, last } = await nextBatch(tx, walk, from, hi, size);
      if (last !== null) {
        const inBatch = (column: SQLWrapper) => (from === null ? sql`(${column} <= ${last})` : sql`(${column} > ${from} and ${column} <= ${last})`);
        await spec.process({ db: tx, sql, rows: (query) => queryRows(tx, query), count, from, to: last, inBatch });
      }
      return { count, last, done: count < size };
    },
  };
}

/**
 * batch(): walks a table in key order, or an input in row order, split into ranges that
 * this process's workers, and any helper processes, claim a batch at a time. Returns when
 * every range is done, whoever did it.
 */
export async function runBatches(walk: Walk, runner: BatchRunner): Promise<BatchResult> {
  const { name } = walk;
  if (runner.walked.has(name)) {
    throw new Error(`batch() walked '${name}' already in this run; give each walk its own name`);
  }
  runner.walked.add(name);
  const opened = await openWalk(runner, walk);
  if (!opened) throw new RunFinished(runner.snippetId);
  if (opened.open && opened.batches) {
    runner.log(`${name}: ${runner.role === 'help' ? 'joining' : 'resuming'} after ${opened.rows} rows in ${opened.batches} batches`);
  }
  if (opened.open) {
    const outcomes = await Promise.allSettled(runner.workers.map((db, index) => workRanges(db, index, walk, runner)));
    const failure = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failure) throw failure.reason;
  }
  const finished = await walkRanges(runner.workers[0]!, runner.repo, runner.snippetId).progress(name);
  return { rows: finished.rows, batches: finished.batches };
}
