import { sql } from 'drizzle-orm';
import type { BatchKey, BatchResult, BatchSpec, SnippetDb } from './define-snippet.ts';
import { queryRows } from './database.ts';
import { describeCause, SafetyRefusal, SnippetFailed } from './errors.ts';
import type { TableChanges } from './ledger.ts';
import { pgErrorCode } from './pg-errors.ts';
import { tableRef } from './table-names.ts';

/** Where a batched snippet is, persisted in snippets.checkpoints with every batch. */
export interface CheckpointState {
  /** The snippet file's sha256: batches of one version never mix with another's. */
  checksum: string;
  walks: Record<string, { cursor: BatchKey | null; done: boolean; rows: number; batches: number }>;
  /** Rows changed per table by all committed batches, for the ledger row. */
  changes: TableChanges;
}

export function emptyCheckpoint(checksum: string): CheckpointState {
  return { checksum, walks: {}, changes: {} };
}

export async function readCheckpoint(db: SnippetDb, repo: string, id: string): Promise<CheckpointState | undefined> {
  const [row] = await queryRows<{ cursor: CheckpointState }>(db, sql`select cursor from snippets.checkpoints where repo = ${repo} and id = ${id}`);
  return row?.cursor;
}

async function saveCheckpoint(db: SnippetDb, repo: string, id: string, state: CheckpointState): Promise<void> {
  const rows = Object.values(state.walks).reduce((n, w) => n + w.rows, 0);
  const batches = Object.values(state.walks).reduce((n, w) => n + w.batches, 0);
  await db.execute(sql`
    insert into snippets.checkpoints (repo, id, cursor, batches_done, rows_done, updated_at)
    values (${repo}, ${id}, ${JSON.stringify(state)}::jsonb, ${batches}, ${rows}, now())
    on conflict (repo, id) do update set cursor = excluded.cursor, batches_done = excluded.batches_done,
      rows_done = excluded.rows_done, updated_at = excluded.updated_at`);
}

export async function deleteCheckpoint(db: SnippetDb, repo: string, id: string): Promise<void> {
  await db.execute(sql`delete from snippets.checkpoints where repo = ${repo} and id = ${id}`);
}

export function addChanges(total: TableChanges, more: TableChanges): TableChanges {
  const sum: TableChanges = structuredClone(total);
  for (const [table, c] of Object.entries(more)) {
    const base = sum[table] ?? { inserted: 0, updated: 0, deleted: 0 };
    sum[table] = { inserted: base.inserted + c.inserted, updated: base.updated + c.updated, deleted: base.deleted + c.deleted };
  }
  return Object.fromEntries(Object.entries(sum).sort(([a], [b]) => a.localeCompare(b)));
}

const RETRYABLE = new Set(['55P03', '57014', '40P01', '40001']); // lock timeout, statement timeout, deadlock, serialization
const MIN_SIZE = 10;
const MAX_SIZE = 100_000;

export interface BatchRunner {
  /** Walk names used by this run's `up`, so one name is never walked twice. */
  walked: Set<string>;
  repo: string;
  snippetId: string;
  state: CheckpointState;
  /**
   * Runs one batch transaction (timeouts, repo lock check, touches check after `work`).
   * `changes()` tells `work` what the transaction has changed so far.
   */
  transaction(work: (tx: SnippetDb, changes: () => Promise<TableChanges>) => Promise<void>): Promise<void>;
  onProgress(progress: BatchProgress): void;
  log(message: string): void;
}

export interface BatchProgress {
  snippetId: string;
  walk: string;
  rows: number;
  total: number;
  batches: number;
  rowsPerSecond: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntilHealthy(spec: BatchSpec, runner: BatchRunner): Promise<void> {
  if (!spec.healthCheck) return;
  for (let wait = 500; ; wait = Math.min(wait * 2, 30_000)) {
    const outcome = await spec.healthCheck();
    const ok = typeof outcome === 'boolean' ? outcome : outcome.ok;
    if (ok) return;
    const why = typeof outcome === 'object' && outcome.message ? `: ${outcome.message}` : '';
    runner.log(`health check failed${why}; pausing ${wait} ms`);
    await sleep(wait);
  }
}

/**
 * Walks `spec.table` in key order from the checkpoint, a batch per transaction committed
 * with the new checkpoint. The size adapts toward `targetMs`; a batch that hits a lock or
 * statement timeout is retried with half the size.
 */
export async function runBatches(db: SnippetDb, spec: BatchSpec, runner: BatchRunner): Promise<BatchResult> {
  const name = spec.name ?? spec.table;
  if (runner.walked.has(name)) {
    throw new Error(`batch() walked '${name}' already in this run; give each walk its own name`);
  }
  runner.walked.add(name);
  const key = sql.identifier(spec.key ?? 'id');
  const table = tableRef(spec.table);
  const where = spec.where ?? sql`true`;
  const walk = (runner.state.walks[name] ??= { cursor: null, done: false, rows: 0, batches: 0 });
  if (walk.done) return { rows: walk.rows, batches: walk.batches };
  if (walk.batches) runner.log(`${name}: resuming after ${walk.rows} rows in ${walk.batches} batches`);

  const after = (cursor: BatchKey | null) => (cursor === null ? sql`true` : sql`${key} > ${cursor}`);
  const [{ count } = { count: 0 }] = await queryRows<{ count: number }>(db, sql`select count(*)::int as count from ${table} where ${after(walk.cursor)} and (${where})`);
  const total = walk.rows + Number(count);
  const maxSize = Math.max(MIN_SIZE, spec.maxSize ?? MAX_SIZE);
  let size = Math.min(Math.max(spec.size ?? 1000, MIN_SIZE), maxSize);
  const targetMs = spec.targetMs ?? 200;
  const started = performance.now();
  const rowsAtStart = walk.rows;

  for (;;) {
    await waitUntilHealthy(spec, runner);
    let attempt = 0;
    let finished = false;
    for (;;) {
      const batchStarted = performance.now();
      try {
        let keys: BatchKey[] = [];
        let committed: CheckpointState | undefined;
        await runner.transaction(async (tx, changes) => {
          const found = await queryRows<{ k: BatchKey }>(tx, sql`select ${key} as k from ${table} where ${after(walk.cursor)} and (${where}) order by ${key} limit ${size}`);
          keys = found.map((r) => r.k);
          if (keys.length === 0) return;
          await spec.process({ db: tx, sql, rows: (query) => queryRows(tx, query), keys, from: walk.cursor, to: keys.at(-1)! });
          // The checkpoint commits with the batch's work, or neither does.
          const next = { ...walk, cursor: keys.at(-1)!, rows: walk.rows + keys.length, batches: walk.batches + 1 };
          committed = { ...runner.state, walks: { ...runner.state.walks, [name]: next }, changes: addChanges(runner.state.changes, await changes()) };
          await saveCheckpoint(tx, runner.repo, runner.snippetId, committed);
        });
        if (!committed) {
          finished = true;
        } else {
          Object.assign(walk, committed.walks[name]);
          runner.state.changes = committed.changes;
        }
        const took = performance.now() - batchStarted;
        // Adapt: halve a slow batch, grow a fast one, toward the target duration.
        if (took > targetMs * 1.5) size = Math.max(MIN_SIZE, Math.floor(size / 2));
        else if (took < targetMs / 2 && keys.length === size) size = Math.min(maxSize, size * 2);
        break;
      } catch (error) {
        const code = pgErrorCode(error);
        if (!code || !RETRYABLE.has(code) || attempt >= (spec.maxRetries ?? 5)) {
          if (error instanceof SnippetFailed || error instanceof SafetyRefusal) throw error;
          throw new SnippetFailed(`${runner.snippetId}: batch of ${name} after ${walk.cursor ?? 'the start'} failed: ${describeCause(error)}; finished batches are kept, run again to resume`, runner.snippetId, 'up', { cause: error });
        }
        attempt++;
        size = Math.max(MIN_SIZE, Math.floor(size / 2));
        const backoff = 250 * 2 ** (attempt - 1);
        runner.log(`${name}: batch hit ${describeCause(error)}; retry ${attempt} with ${size} rows in ${backoff} ms`);
        await sleep(backoff);
      }
    }
    const seconds = (performance.now() - started) / 1000;
    runner.onProgress({ snippetId: runner.snippetId, walk: name, rows: walk.rows, total, batches: walk.batches, rowsPerSecond: (walk.rows - rowsAtStart) / Math.max(seconds, 0.001) });
    if (finished) break;
    if (spec.pauseMs) await sleep(spec.pauseMs);
  }
  walk.done = true;
  return { rows: walk.rows, batches: walk.batches };
}

export interface CheckpointProgress {
  rows: number;
  batches: number;
  updatedAt: Date;
}

/** Batched snippets under way (or interrupted), readable from any process. */
export async function readCheckpoints(db: SnippetDb, repo: string): Promise<Map<string, CheckpointProgress>> {
  const rows = await queryRows<{ id: string; rows_done: string; batches_done: number; updated_at: string | Date }>(
    db,
    sql`select id, rows_done, batches_done, updated_at from snippets.checkpoints where repo = ${repo}`,
  );
  return new Map(rows.map((r) => [r.id, { rows: Number(r.rows_done), batches: Number(r.batches_done), updatedAt: new Date(r.updated_at) }]));
}
