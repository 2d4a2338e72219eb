import { sql } from 'drizzle-orm';
import type { AuditContext } from './audit.ts';
import type { ParsedConfig } from './config.ts';
import type { BatchResult, SnippetContext, SnippetDb, VerifyOutcome } from './define-snippet.ts';
import { queryRows } from './database.ts';
import { describeCause, SafetyRefusal, SnippetFailed } from './errors.ts';
import { appendEvent, insertLedgerRows, markReverted, type TableChanges } from './ledger.ts';
import type { LoadedSnippet } from './load-snippets.ts';
import { holdsRepoLock } from './lock.ts';
import { qualifyTable } from './table-names.ts';
import { analyseImpact, deleteSafely } from './impact.ts';
import {
  committedChanges,
  leadCheckpoint,
  deleteCheckpoint,
  readCheckpoint,
  runBatches,
  RunFinished,
  unfinishedWalks,
  type BatchProgress,
  type BatchRunner,
} from './batching.ts';
import { compareFingerprints, schemaFingerprint } from './schema-fingerprint.ts';

export type LogSink = (snippetId: string, level: 'info' | 'warn', message: string) => void;

export interface ExecuteOptions {
  repo: string;
  audit: AuditContext;
  timeouts: ParsedConfig['timeouts'];
  onLog: LogSink;
  /** Progress of batched snippets, after every batch. */
  onProgress?: (progress: BatchProgress) => void;
  /** Checked inside each transaction; false only for the test helper, which takes no lock. */
  requireRepoLock: boolean;
  /** Extra connections that work a batched snippet's ranges beside the first (`--workers`). */
  workers?: SnippetDb[];
}

export interface VerifyResult {
  ok: boolean;
  message?: string;
}

export interface ApplyResult {
  id: string;
  startedAt: Date;
  durationMs: number;
  rowsChanged: TableChanges;
  verify: VerifyResult | null;
  dryRun: boolean;
}

/** Thrown inside a transaction to roll it back on purpose and carry the result out. */
class Rollback<T> extends Error {
  constructor(readonly result: T) {
    super('rollback');
  }
}

async function inTransaction<T>(db: SnippetDb, work: (tx: SnippetDb) => Promise<T>, commit: boolean): Promise<T> {
  try {
    return await db.transaction(async (tx) => {
      const result = await work(tx as unknown as SnippetDb);
      if (!commit) throw new Rollback(result);
      return result;
    });
  } catch (error) {
    if (error instanceof Rollback) return error.result as T;
    throw error;
  }
}

const notBatched = async (): Promise<BatchResult> => {
  throw new Error("batch() needs transaction: 'batched' in the snippet's definition");
};

function buildContext(
  tx: SnippetDb,
  snippet: LoadedSnippet,
  options: ExecuteOptions,
  dryRun: boolean,
  batch: SnippetContext['batch'] = notBatched,
): SnippetContext {
  return {
    batch,
    impact: (table, where) => analyseImpact(tx, table, where),
    deleteSafely: (table, where, deleteOptions) => deleteSafely(tx, table, where, deleteOptions),
    db: tx,
    sql,
    rows: (query) => queryRows(tx, query),
    log: {
      info: (message) => options.onLog(snippet.id, 'info', message),
      warn: (message) => options.onLog(snippet.id, 'warn', message),
    },
    params: snippet.definition.params ?? {},
    snippet: { repo: options.repo, id: snippet.id },
    dryRun,
  };
}

async function prepareTransaction(tx: SnippetDb, options: ExecuteOptions): Promise<void> {
  // One round trip: this runs at the start of every batch.
  await tx.execute(
    sql`select set_config('statement_timeout', ${`${options.timeouts.statementMs}ms`}, true),
               set_config('lock_timeout', ${`${options.timeouts.lockMs}ms`}, true)`,
  );
  if (options.requireRepoLock && !(await holdsRepoLock(tx, options.repo))) {
    throw new SafetyRefusal(
      `the connection lost the repo lock of '${options.repo}' (was it reset?); run again`,
      'lock-held',
    );
  }
}

type ChangeCounts = Map<string, { ins: number; upd: number; del: number }>;

/** Row counts this session changed per table, from PostgreSQL's own statistics. */
async function changeCounts(tx: SnippetDb): Promise<ChangeCounts> {
  const rows = await queryRows<{ name: string; ins: string; upd: string; del: string }>(
    tx,
    sql`select schemaname || '.' || relname as name, n_tup_ins as ins, n_tup_upd as upd, n_tup_del as del
        from pg_stat_xact_user_tables
        where schemaname <> 'snippets' and schemaname not like 'pg\_temp%'`,
  );
  return new Map(rows.map((r) => [r.name, { ins: Number(r.ins), upd: Number(r.upd), del: Number(r.del) }]));
}

function changesBetween(before: ChangeCounts, after: ChangeCounts): TableChanges {
  const changes: TableChanges = {};
  for (const [table, counts] of [...after].sort(([a], [b]) => a.localeCompare(b))) {
    const base = before.get(table) ?? { ins: 0, upd: 0, del: 0 };
    const inserted = counts.ins - base.ins;
    const updated = counts.upd - base.upd;
    const deleted = counts.del - base.del;
    if (inserted || updated || deleted) changes[table] = { inserted, updated, deleted };
  }
  return changes;
}

function normaliseVerify(outcome: VerifyOutcome): VerifyResult {
  if (outcome === undefined || outcome === true) return { ok: true };
  if (outcome === false) return { ok: false };
  return { ok: outcome.ok, ...(outcome.message ? { message: outcome.message } : {}) };
}

async function runPhase<T>(snippet: LoadedSnippet, phase: 'up' | 'verify' | 'down', work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof SafetyRefusal || error instanceof SnippetFailed) throw error;
    throw new SnippetFailed(`${snippet.id}: ${phase} failed: ${describeCause(error)}; the transaction was rolled back`, snippet.id, phase, {
      cause: error,
    });
  }
}

async function verifyInside(snippet: LoadedSnippet, context: SnippetContext): Promise<VerifyResult | null> {
  const verify = snippet.definition.verify;
  if (!verify) return null;
  const result = normaliseVerify(await runPhase(snippet, 'verify', () => verify(context)));
  if (!result.ok) {
    throw new SnippetFailed(
      `${snippet.id}: verify failed${result.message ? `: ${result.message}` : ''}; the transaction was rolled back`,
      snippet.id,
      'verify',
    );
  }
  return result;
}

/**
 * Runs an atomic snippet: `up`, then `verify`, then the ledger row, in one transaction.
 * Any failure, or a change to a table not in `touches`, rolls all of it back. Under
 * `dryRun` nothing is recorded; the caller rolls the whole run back (see `withRollback`).
 */
export async function applySnippet(db: SnippetDb, snippet: LoadedSnippet, options: ExecuteOptions & { dryRun: boolean }): Promise<ApplyResult> {
  if (snippet.definition.transaction === 'batched') return applyBatched(db, snippet, options);
  const startedAt = new Date();
  return inTransaction(
    db,
    async (tx) => {
      await prepareTransaction(tx, options);
      const context = buildContext(tx, snippet, options, options.dryRun);
      const schemaBefore = await schemaFingerprint(tx);
      const before = await changeCounts(tx);
      await runPhase(snippet, 'up', () => snippet.definition.up(context));
      const verify = await verifyInside(snippet, context);
      const rowsChanged = changesBetween(before, await changeCounts(tx));
      await checkSchemaUnchanged(tx, snippet, schemaBefore);
      checkTouches(snippet, rowsChanged);

      const finishedAt = new Date();
      const result: ApplyResult = {
        id: snippet.id,
        startedAt,
        durationMs: finishedAt.getTime() - startedAt.getTime(),
        rowsChanged,
        verify,
        dryRun: options.dryRun,
      };
      if (!options.dryRun) await recordApplied(tx, snippet, options, result);
      return result;
    },
    true,
  );
}

/**
 * Records a squash on a database that never ran what it replaces: there is no code to
 * run, the ledger row says the squash's state is in place (its data came with the dump or
 * the service's own seed).
 */
export async function recordSquash(db: SnippetDb, squash: LoadedSnippet, options: ExecuteOptions & { dryRun: boolean }): Promise<ApplyResult> {
  const startedAt = new Date();
  const result: ApplyResult = { id: squash.id, startedAt, durationMs: 0, rowsChanged: {}, verify: null, dryRun: options.dryRun };
  if (options.dryRun) return result;
  return inTransaction(
    db,
    async (tx) => {
      await prepareTransaction(tx, options);
      await insertLedgerRows(tx, [
        {
          repo: options.repo,
          id: squash.id,
          number: squash.number,
          checksum: squash.checksum,
          status: 'squashed',
          description: squash.definition.description,
          ...options.audit,
          startedAt,
          finishedAt: startedAt,
          durationMs: 0,
        },
      ]);
      await appendEvent(tx, {
        repo: options.repo,
        snippetId: squash.id,
        kind: 'squashed',
        checksum: squash.checksum,
        ...options.audit,
        detail: { replaces: squash.replaces },
      });
      return result;
    },
    true,
  );
}

/** The ledger row and the audit event of an applied snippet, in the caller's transaction. */
async function recordApplied(tx: SnippetDb, snippet: LoadedSnippet, options: ExecuteOptions, result: ApplyResult, detail: Record<string, unknown> = {}): Promise<void> {
  await insertLedgerRows(tx, [ledgerRow(snippet, options, result)]);
  await appendEvent(tx, {
    repo: options.repo,
    snippetId: snippet.id,
    kind: 'applied',
    checksum: snippet.checksum,
    ...options.audit,
    detail: { durationMs: result.durationMs, rowsChanged: result.rowsChanged, verify: result.verify, ...detail },
  });
}

function ledgerRow(snippet: LoadedSnippet, options: ExecuteOptions, result: ApplyResult) {
  return {
    repo: options.repo,
    id: snippet.id,
    number: snippet.number,
    checksum: snippet.checksum,
    status: 'applied' as const,
    description: snippet.definition.description,
    ...options.audit,
    startedAt: result.startedAt,
    finishedAt: new Date(result.startedAt.getTime() + result.durationMs),
    durationMs: result.durationMs,
    rowsChanged: result.rowsChanged,
    verifyResult: result.verify,
  };
}

function batchRunner(db: SnippetDb, snippet: LoadedSnippet, options: ExecuteOptions, role: BatchRunner['role']): BatchRunner {
  return {
    repo: options.repo,
    snippetId: snippet.id,
    role,
    walked: new Set(),
    workers: [db, ...(options.workers ?? [])],
    transaction: (worker, work) =>
      inTransaction(
        worker,
        async (tx) => {
          // No repo-lock check: the claimed range's row lock is what makes a batch exclusive,
          // and helpers and extra workers never hold the repo lock.
          await prepareTransaction(tx, { ...options, requireRepoLock: false });
          // Not empty at a transaction's start: PostgreSQL keeps counting until it flushes its statistics.
          const before = await changeCounts(tx);
          // Read once: `work` asks just before saving the checkpoint, after all its writes.
          let seen: TableChanges | undefined;
          const changes = async () => (seen ??= changesBetween(before, await changeCounts(tx)));
          const result = await work(tx, changes);
          checkTouches(snippet, await changes());
          return result;
        },
        true,
      ),
    onProgress: options.onProgress ?? (() => {}),
    log: (message) => options.onLog(snippet.id, 'info', message),
  };
}

/**
 * The context `up` gets in a batched snippet. Outside batch() nothing may touch the
 * database: such writes would commit at once and run again on every resume.
 */
function batchedContext(db: SnippetDb, snippet: LoadedSnippet, options: ExecuteOptions, dryRun: boolean, runner: BatchRunner): SnippetContext {
  const outside = () => {
    throw new Error("in a batched snippet, use the db and rows given to batch()'s process(), not the context's");
  };
  return {
    ...buildContext(db, snippet, options, dryRun, (spec) => runBatches(spec, runner)),
    db: new Proxy({} as SnippetDb, { get: outside }),
    rows: outside,
    impact: outside,
    deleteSafely: outside,
  };
}

/**
 * Runs a batched snippet: `up` drives `batch()`, whose every batch commits with its
 * range's cursor, so a killed run resumes after the last finished batch, and other
 * processes can help (see `helpBatched`). Then `verify`, the schema check and the ledger
 * row commit together, and the checkpoint is removed.
 */
async function applyBatched(db: SnippetDb, snippet: LoadedSnippet, options: ExecuteOptions & { dryRun: boolean }): Promise<ApplyResult> {
  const startedAt = new Date();
  const state = await readCheckpoint(db, options.repo, snippet.id);
  if (state && state.checksum !== snippet.checksum) {
    throw new SafetyRefusal(
      `${snippet.displayPath}: an interrupted run of another version of this file committed batches; check what they changed, then delete its row from snippets.checkpoints to start over`,
      'changed-applied',
      { subject: snippet.displayPath },
    );
  }
  await leadCheckpoint(db, options.repo, snippet.id, snippet.checksum);
  const schemaBefore = await schemaFingerprint(db);
  const runner = batchRunner(db, snippet, options, 'run');
  await runPhase(snippet, 'up', () => snippet.definition.up(batchedContext(db, snippet, options, options.dryRun, runner)));

  return inTransaction(
    db,
    async (tx) => {
      await prepareTransaction(tx, options);
      const unfinished = await unfinishedWalks(tx, options.repo, snippet.id);
      if (unfinished.length) throw new Error(`walks ${unfinished.join(', ')} still have ranges to do`); // batch() returns only when none are left
      const verify = await verifyInside(snippet, buildContext(tx, snippet, options, options.dryRun));
      await checkSchemaUnchanged(tx, snippet, schemaBefore);
      const rowsChanged = await committedChanges(tx, options.repo, snippet.id, state ?? { checksum: snippet.checksum });
      const result: ApplyResult = { id: snippet.id, startedAt, durationMs: Date.now() - startedAt.getTime(), rowsChanged, verify, dryRun: options.dryRun };
      if (!options.dryRun) await recordApplied(tx, snippet, options, result);
      // Also under a dry run: a later apply in the same (rolled-back) transaction starts afresh.
      await deleteCheckpoint(tx, options.repo, snippet.id);
      return result;
    },
    true,
  );
}

export interface HelpResult {
  id: string;
  rows: number;
  batches: number;
}

/**
 * Joins another runner's batched snippet: runs `up` with this process's workers claiming
 * ranges beside the runner's, until its walks are done or its checkpoint is gone. Records
 * nothing but a `helped` event; the runner holding the repo lock writes the ledger row.
 */
export async function helpBatched(db: SnippetDb, snippet: LoadedSnippet, options: ExecuteOptions): Promise<HelpResult> {
  let rows = 0;
  let batches = 0;
  const onProgress = (progress: BatchProgress) => {
    rows += progress.batchRows;
    batches++;
    options.onProgress?.(progress);
  };
  const runner = batchRunner(db, snippet, { ...options, onProgress }, 'help');
  try {
    await runPhase(snippet, 'up', () => snippet.definition.up(batchedContext(db, snippet, options, false, runner)));
  } catch (error) {
    if (!(error instanceof SnippetFailed && error.cause instanceof RunFinished)) throw error;
  }
  if (rows) {
    await appendEvent(db, { repo: options.repo, snippetId: snippet.id, kind: 'helped', checksum: snippet.checksum, ...options.audit, detail: { rows, batches, workers: 1 + (options.workers?.length ?? 0) } });
  }
  return { id: snippet.id, rows, batches };
}

/** Runs `work` in a transaction that is always rolled back: how `run --dry-run` undoes a whole run. */
export function withRollback<T>(db: SnippetDb, work: (tx: SnippetDb) => Promise<T>): Promise<T> {
  return inTransaction(db, work, false);
}

function checkTouches(snippet: LoadedSnippet, rowsChanged: TableChanges): void {
  const allowed = new Set(snippet.definition.touches.map(qualifyTable));
  const undeclared = Object.keys(rowsChanged).filter((table) => !allowed.has(table));
  if (undeclared.length) {
    throw new SnippetFailed(
      `${snippet.id}: changed ${undeclared.join(', ')}, not declared in touches; add the table to touches or fix the snippet (rolled back)`,
      snippet.id,
      'touches',
      { rowsChanged },
    );
  }
}

/** A snippet changes data, never the schema: DDL belongs in the service's migrations. */
async function checkSchemaUnchanged(tx: SnippetDb, snippet: LoadedSnippet, before: string[]): Promise<void> {
  const { added, removed } = compareFingerprints(before, await schemaFingerprint(tx));
  if (added.length || removed.length) {
    const first = added[0] ? `added ${added[0]}` : `removed ${removed[0]}`;
    const more = added.length + removed.length > 1 ? ` and ${added.length + removed.length - 1} more changes` : '';
    throw new SafetyRefusal(
      `${snippet.displayPath}: changed the schema (${first}${more}); schema changes belong in the service's migrations (rolled back)`,
      'schema-changed',
      { subject: snippet.displayPath },
    );
  }
}

/** Runs `down` and marks the snippet reverted, in one transaction. */
export async function revertSnippet(
  db: SnippetDb,
  snippet: LoadedSnippet,
  reason: string,
  options: ExecuteOptions,
): Promise<{ rowsChanged: TableChanges; durationMs: number }> {
  const down = snippet.definition.down!;
  const startedAt = Date.now();
  return inTransaction(
    db,
    async (tx) => {
      await prepareTransaction(tx, options);
      const before = await changeCounts(tx);
      await runPhase(snippet, 'down', () => down(buildContext(tx, snippet, options, false)));
      const rowsChanged = changesBetween(before, await changeCounts(tx));
      const durationMs = Date.now() - startedAt;
      await markReverted(tx, options.repo, snippet.id);
      await appendEvent(tx, {
        repo: options.repo,
        snippetId: snippet.id,
        kind: 'reverted',
        checksum: snippet.checksum,
        ...options.audit,
        reason,
        detail: { durationMs, rowsChanged },
      });
      return { rowsChanged, durationMs };
    },
    true,
  );
}

/** Re-runs a snippet's post-check in a read-only transaction that is always rolled back. */
export async function verifySnippet(db: SnippetDb, snippet: LoadedSnippet, options: ExecuteOptions): Promise<VerifyResult | null> {
  return inTransaction(
    db,
    async (tx) => {
      await tx.execute(sql`set transaction read only`);
      await prepareTransaction(tx, { ...options, requireRepoLock: false });
      try {
        return await verifyInside(snippet, buildContext(tx, snippet, options, false));
      } catch (error) {
        if (error instanceof SnippetFailed) return { ok: false, message: error.message };
        throw error;
      }
    },
    false,
  );
}
