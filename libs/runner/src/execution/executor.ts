import { sql } from 'drizzle-orm';
import type { AuditContext } from '../audit.ts';
import type { ParsedConfig } from '../config.ts';
import type { BatchResult, BatchSpec, InputBatchSpec, SnippetContext, SnippetDb, VerifyOutcome } from '../snippets/define-snippet.ts';
import { undeclaredTables } from '../checks/touches.ts';
import { CHANGE_COUNTS, changesBetween, type ChangeCounts, type TableChanges } from '../checks/change-counts.ts';
import { readRefusal, type AppliedRecord, type ClosingInput } from '../store/closing-statement.ts';
import { CommitFailed, plainWrites, type AtomicTransaction } from '../store/atomic-writes.ts';
import { startTransaction } from '../store/transaction-start.ts';
import { queryPrepared, queryRows, type Statement } from '../database/queries.ts';
import { describeCause, SafetyRefusal, SnippetFailed, withoutServerValues } from '../errors.ts';
import type { GuardRecord, OutboundConnection } from '../database/connection-guard.ts';
import { guardRecordFor, outboundOf, runBatchGuarded, runPhase, type GuardSettings } from './snippet-phase.ts';
import type { NewEvent } from '../store/ledger-schema.ts';
import { snippetStore } from '../store/snippet-store.ts';
import type { LoadedSnippet } from '../snippets/load-snippets.ts';
import { noSuchTable } from '../checks/missing-tables.ts';
import { spellTable, type QualifiedTable } from '../snippets/table-names.ts';
import { atServerTime, readServerClock, type ServerTime } from '../database/server-clock.ts';
import { analyseImpact, deleteSafely } from '../impact/impact.ts';
import { runBatches, RunFinished, tableWalk, type BatchProgress, type BatchRunner } from '../batching/batching.ts';
import { compareFingerprints, fingerprintTables, SchemaBaseline, schemaFingerprint, type Fingerprint } from '../checks/schema-fingerprint.ts';
import { contextInputs, inputDigests, type PreparedInputs } from '../inputs/snippet-inputs.ts';
import { maskAll } from '../inputs/masking.ts';
import { inputWalk } from '../batching/input-walk.ts';

export type LogSink = (snippetId: string, level: 'info' | 'warn', message: string) => void;

export interface ExecuteOptions extends GuardSettings {
  repo: string;
  audit: AuditContext;
  timeouts: ParsedConfig['timeouts'];
  onLog: LogSink;
  /** Progress of batched snippets, after every batch. */
  onProgress?: (progress: BatchProgress) => void;
  /** Taken again inside each transaction (see repoLockForTransaction); false for the test helper, which takes no lock. */
  requireRepoLock: boolean;
  /** Extra connections that work a batched snippet's ranges beside the first (`--workers`). */
  workers?: SnippetDb[];
  /** Aborted, a batched snippet stops after the batch under way (see BatchRunner.signal). */
  signal?: AbortSignal;
  /** The run's inputs, fetched, checked and scanned, by snippet id (see prepare-inputs.ts). */
  inputs?: ReadonlyMap<string, PreparedInputs>;
}

/** How `snippets run` applies one snippet, beside the options every command shares. */
export type ApplyOptions = ExecuteOptions & {
  dryRun: boolean;
  /** The run's schema baseline, read once; without it each call reads its own. */
  schema?: SchemaBaseline;
  /**
   * The run's 'started' event: a snippet that is one transaction (atomic, squash) writes it
   * with its ledger row, so it commits, or rolls back, with the snippet. The caller records
   * a batched snippet's beforehand, as its batches commit on their own.
   */
  started?: NewEvent;
  /** The run's transaction for this snippet, if atomic (see the store's atomic writes); without it, a plain one on `db`. */
  writes?: AtomicTransaction;
};

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
  /** Where the snippet's code connected, other than its db (production only lets them through). */
  outbound?: OutboundConnection[];
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

/** Masks the sensitive input values in hand out of what the snippet logs or fails with (see masking.ts). */
function maskFor(snippet: LoadedSnippet, options: ExecuteOptions): (text: string) => string {
  const inputs = Object.values(options.inputs?.get(snippet.id) ?? {});
  return inputs.length ? maskAll(inputs.map((input) => input.inHand)) : (text) => text;
}

/**
 * `error`, its message masked, for a snippet with inputs: a failure quoting a row's value,
 * or a server message quoting one, says what failed without it.
 */
function masked(error: unknown, snippet: LoadedSnippet, options: ExecuteOptions): unknown {
  if (!options.inputs?.get(snippet.id) || !(error instanceof Error)) return error;
  error.message = withoutServerValues(maskFor(snippet, options)(error.message));
  return error;
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
  const mask = maskFor(snippet, options);
  return {
    batch,
    impact: (table, where) => analyseImpact(tx, table, where),
    deleteSafely: (table, where, deleteOptions) => deleteSafely(tx, table, where, deleteOptions),
    db: tx,
    sql,
    rows: (query) => queryRows(tx, query),
    log: {
      info: (message) => options.onLog(snippet.id, 'info', mask(message)),
      warn: (message) => options.onLog(snippet.id, 'warn', mask(message)),
    },
    params: snippet.definition.params ?? {},
    inputs: contextInputs(options.inputs?.get(snippet.id)) as SnippetContext['inputs'],
    snippet: { repo: options.repo, id: snippet.id },
    dryRun,
  };
}

const CHANGE_COUNTS_NOW: Statement = { text: `select ${CHANGE_COUNTS} as counts`, params: [] };

async function changeCounts(tx: SnippetDb): Promise<ChangeCounts> {
  const [row] = await queryPrepared<{ counts: ChangeCounts }>(tx, CHANGE_COUNTS_NOW);
  return row!.counts;
}

function normaliseVerify(outcome: VerifyOutcome): VerifyResult {
  if (outcome === undefined || outcome === true) return { ok: true };
  if (outcome === false) return { ok: false };
  return { ok: outcome.ok, ...(outcome.message ? { message: outcome.message } : {}) };
}

/** Runs `verify`; its message is recorded in the ledger, so the input values in it are masked. */
async function verifyInside(snippet: LoadedSnippet, context: SnippetContext, guard: GuardRecord, options: ExecuteOptions): Promise<VerifyResult | null> {
  const verify = snippet.definition.verify;
  if (!verify) return null;
  const outcome = normaliseVerify(await runPhase(snippet, 'verify', guard, context.db, () => verify(context)));
  const result = outcome.message ? { ...outcome, message: maskFor(snippet, options)(outcome.message) } : outcome;
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
 * Any failure, a change to a table not in `touches` or to the schema rolls all of it back. Under
 * `dryRun` nothing is recorded; the caller rolls the whole run back (see `withRollback`).
 */
export async function applySnippet(db: SnippetDb, snippet: LoadedSnippet, options: ApplyOptions): Promise<ApplyResult> {
  try {
    return await applyEither(db, snippet, options);
  } catch (error) {
    throw masked(error, snippet, options);
  }
}

async function applyEither(db: SnippetDb, snippet: LoadedSnippet, options: ApplyOptions): Promise<ApplyResult> {
  if (snippet.definition.transaction === 'batched') return applyBatched(db, snippet, options);
  const baseline = options.schema ?? new SchemaBaseline();
  try {
    return await applyAtomic(db, snippet, options, await baseline.read(db));
  } catch (error) {
    // Another session's migration since the baseline was read would be blamed on the
    // snippet: read the schema again and, if it did change, try the snippet once more.
    if (error instanceof SafetyRefusal && error.check === 'schema-changed' && (await baseline.refresh(db))) {
      options.onLog(snippet.id, 'warn', 'another session changed the schema during the run; trying again against the new schema');
      return applyAtomic(db, snippet, options, await baseline.read(db));
    }
    throw error;
  }
}

async function applyAtomic(db: SnippetDb, snippet: LoadedSnippet, options: ApplyOptions, schemaBefore: Fingerprint): Promise<ApplyResult> {
  // Only for a dry run's report: what is recorded is timed by the server's clock.
  const runnerStart = performance.now();
  const guard = guardRecordFor(options, options.dryRun);
  const writes = options.writes ?? plainWrites(db).at(0);
  try {
    const { value, ...closed } = await writes.apply(options, async (tx, start) => {
      // Inside the transaction, though it fails before any work: on PostgreSQL the transaction
      // may have been begun behind the last COMMIT, and only the snippet that takes it ends it.
      checkTouchesExist(snippet, schemaBefore.entries);
      const context = buildContext(tx, snippet, options, options.dryRun);
      const upOutcome = await runPhase(snippet, 'up', guard, tx, () => snippet.definition.up(context)).then(
        () => undefined,
        (error: unknown) => ({ error }),
      );
      // A lost repo lock, or a failed start, wins over up()'s outcome.
      const { counts: before, clock } = await start;
      if (upOutcome) throw upOutcome.error;
      const verify = await verifyInside(snippet, context, guard, options);
      const closing: ClosingInput = { before, touches: [...snippet.definition.touches], schemaHash: schemaBefore.hash };
      const durationMs = Math.round(performance.now() - runnerStart);
      const reached = outboundOf(guard);
      const value: ApplyResult = { id: snippet.id, startedAt: clock.date, durationMs, rowsChanged: {}, verify, dryRun: options.dryRun, ...reached };
      if (options.dryRun) return { value, closing };
      const record: AppliedRecord = {
        repo: options.repo,
        id: snippet.id,
        number: snippet.number,
        checksum: snippet.checksum,
        description: snippet.definition.description,
        audit: options.audit,
        startedMicros: clock.micros,
        verify,
        outbound: reached.outbound,
        inputs: inputDigests(options.inputs?.get(snippet.id)),
        withStartedEvent: Boolean(options.started),
      };
      return { value, closing, record };
    });
    return { ...value, ...closed };
  } catch (error) {
    if (error instanceof CommitFailed) {
      throw new SnippetFailed(`${snippet.id}: commit failed: ${describeCause(error.cause)}; the transaction was rolled back`, snippet.id, 'commit', { cause: error.cause });
    }
    throw closingError(error, snippet, schemaBefore);
  }
}

/** A refusal from the closing statement as the runner reports it; any other error as it is. */
function closingError(error: unknown, snippet: LoadedSnippet, schemaBefore: Fingerprint): unknown {
  const refusal = readRefusal(error);
  if (refusal?.check === 'touches') return touchesFailure(snippet, refusal.rowsChanged) ?? error;
  if (refusal?.check === 'schema') return schemaChange(snippet, schemaBefore.entries, refusal.fingerprint) ?? error;
  return error;
}

/**
 * Records a squash on a database that never ran what it replaces: there is no code to
 * run, the ledger row says the squash's state is in place (its data came with the dump or
 * the service's own seed).
 */
export async function recordSquash(db: SnippetDb, squash: LoadedSnippet, options: ApplyOptions): Promise<ApplyResult> {
  if (options.dryRun) return { id: squash.id, startedAt: new Date(), durationMs: 0, rowsChanged: {}, verify: null, dryRun: true };
  return inTransaction(
    db,
    async (tx) => {
      const { clock } = await startTransaction(tx, options);
      const at = atServerTime(clock);
      const row = {
        repo: options.repo,
        id: squash.id,
        number: squash.number,
        checksum: squash.checksum,
        status: 'squashed' as const,
        description: squash.definition.description,
        ...options.audit,
        startedAt: at,
        finishedAt: at,
        durationMs: 0,
      };
      // Its events keep the clock's default, clock_timestamp(), after the row's time.
      const squashed: NewEvent = {
        repo: options.repo,
        snippetId: squash.id,
        kind: 'squashed',
        checksum: squash.checksum,
        ...options.audit,
        detail: { replaces: squash.replaces },
      };
      await snippetStore(tx, options.repo).record(row, options.started ? [{ ...options.started, at: at }, squashed] : [squashed]);
      return { id: squash.id, startedAt: clock.date, durationMs: 0, rowsChanged: {}, verify: null, dryRun: false };
    },
    true,
  );
}

/** The ledger row and the audit event of an applied batched snippet, in the caller's transaction, timed by the server's clock. */
async function recordApplied(tx: SnippetDb, snippet: LoadedSnippet, options: ExecuteOptions, result: ApplyResult, started: ServerTime, finished: ServerTime): Promise<void> {
  const applied = {
    repo: options.repo,
    snippetId: snippet.id,
    kind: 'applied' as const,
    checksum: snippet.checksum,
    ...options.audit,
    at: atServerTime(finished),
    detail: { durationMs: result.durationMs, rowsChanged: result.rowsChanged, verify: result.verify, outbound: result.outbound, inputs: inputDigests(options.inputs?.get(snippet.id)) },
  };
  const row = {
    repo: options.repo,
    id: snippet.id,
    number: snippet.number,
    checksum: snippet.checksum,
    status: 'applied' as const,
    description: snippet.definition.description,
    ...options.audit,
    startedAt: atServerTime(started),
    finishedAt: atServerTime(finished),
    durationMs: result.durationMs,
    rowsChanged: result.rowsChanged,
    verifyResult: result.verify,
  };
  await snippetStore(tx, options.repo).record(row, [applied]);
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
          const before = JSON.parse((await startTransaction(tx, { ...options, requireRepoLock: false })).counts) as ChangeCounts;
          // Read once: `work` asks just before saving the checkpoint, after all its writes.
          let seen: TableChanges | undefined;
          const changes = async () => (seen ??= changesBetween(before, await changeCounts(tx)));
          const result = await runBatchGuarded(snippet, tx, () => work(tx, changes));
          checkTouches(snippet, await changes());
          return result;
        },
        true,
      ),
    onProgress: options.onProgress ?? (() => {}),
    log: (message) => options.onLog(snippet.id, 'info', message),
    signal: options.signal,
  };
}

/**
 * The context `up` gets in a batched snippet. Outside batch() nothing may touch the
 * database: such writes would commit at once and run again on every resume.
 */
function batchedContext(db: SnippetDb, snippet: LoadedSnippet, options: ExecuteOptions, dryRun: boolean, runner: BatchRunner): SnippetContext {
  const where = { repo: options.repo, snippetId: snippet.id };
  const walkOf = ((spec: BatchSpec | InputBatchSpec) =>
    runBatches('input' in spec ? inputWalk(spec, options.inputs?.get(snippet.id), where) : tableWalk(spec), runner)) as SnippetContext['batch'];
  const outside = () => {
    throw new Error("in a batched snippet, use the db and rows given to batch()'s process(), not the context's");
  };
  return {
    ...buildContext(db, snippet, options, dryRun, walkOf),
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
async function applyBatched(db: SnippetDb, snippet: LoadedSnippet, options: ApplyOptions): Promise<ApplyResult> {
  // One round trip each for the start and the end: a batched snippet makes many anyway.
  const started = await readServerClock(db);
  const store = snippetStore(db, options.repo);
  const state = await store.checkpoint(snippet.id);
  if (state && state.checksum !== snippet.checksum) {
    throw new SafetyRefusal(
      `${snippet.displayPath}: an interrupted run of another version of this file committed batches; check what they changed, then delete its row from snippets.checkpoints to start over`,
      'changed-applied',
      { subject: snippet.displayPath },
    );
  }
  // Before the checkpoint: a fixed touches list must not meet a checkpoint of this version.
  const schemaBefore = await schemaFingerprint(db);
  checkTouchesExist(snippet, schemaBefore);
  await store.leadCheckpoint(snippet.id, snippet.checksum);
  const runner = batchRunner(db, snippet, options, 'run');
  const guard = guardRecordFor(options, options.dryRun);
  const upContext = batchedContext(db, snippet, options, options.dryRun, runner);
  await runPhase(snippet, 'up', guard, upContext.db, () => snippet.definition.up(upContext));

  return inTransaction(
    db,
    async (tx) => {
      await startTransaction(tx, options);
      const inTx = snippetStore(tx, options.repo);
      const verify = await verifyInside(snippet, buildContext(tx, snippet, options, options.dryRun), guard, options);
      await checkSchemaUnchanged(tx, snippet, schemaBefore);
      const rowsChanged = await inTx.committedChanges(snippet.id, state ?? { checksum: snippet.checksum });
      const finished = await readServerClock(tx);
      const durationMs = Math.round(finished.micros / 1000 - started.micros / 1000);
      const result: ApplyResult = { id: snippet.id, startedAt: started.date, durationMs, rowsChanged, verify, dryRun: options.dryRun, ...outboundOf(guard) };
      if (!options.dryRun) await recordApplied(tx, snippet, options, result, started, finished);
      // Also under a dry run: a later apply in the same (rolled-back) transaction starts afresh.
      // Refused while a range is open: batch() returns only when none is, whoever did them.
      await inTx.closeCheckpoint(snippet.id);
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
  const guard = guardRecordFor(options, false);
  const upContext = batchedContext(db, snippet, options, false, runner);
  try {
    await runPhase(snippet, 'up', guard, upContext.db, () => snippet.definition.up(upContext));
  } catch (error) {
    if (!(error instanceof SnippetFailed && error.cause instanceof RunFinished)) throw error;
  }
  if (rows) {
    const helped: NewEvent = { repo: options.repo, snippetId: snippet.id, kind: 'helped', checksum: snippet.checksum, ...options.audit, detail: { rows, batches, workers: 1 + (options.workers?.length ?? 0), ...outboundOf(guard) } };
    await snippetStore(db, options.repo).appendEvents([helped]);
  }
  return { id: snippet.id, rows, batches };
}

/** Runs `work` in a transaction that is always rolled back: how `run --dry-run` undoes a whole run. */
export function withRollback<T>(db: SnippetDb, work: (tx: SnippetDb) => Promise<T>): Promise<T> {
  return inTransaction(db, work, false);
}

/** The tables of a fingerprint's entries, by the entries' array (a run's baseline is read once). */
const baselineTables = new WeakMap<readonly string[], Set<string>>();

/**
 * A touches entry that names no table would make the touches check refuse the snippet's
 * real changes with a confusing message, or pass a list that means nothing to a reviewer:
 * it fails before up runs, saying which table it may mean. The schema baseline already
 * lists the tables, so this costs no query.
 */
function checkTouchesExist(snippet: LoadedSnippet, fingerprint: readonly string[]): void {
  const touches = snippet.definition.touches;
  if (!touches.length) return;
  // A run's snippets share one baseline: its tables are read out of it once, not per snippet.
  let existing = baselineTables.get(fingerprint);
  if (!existing) baselineTables.set(fingerprint, (existing = new Set<string>(fingerprintTables(fingerprint))));
  const missing = touches.find((table) => !existing.has(table));
  if (!missing) return;
  const why = noSuchTable('touches', spellTable(missing), missing, fingerprintTables(fingerprint)).message;
  throw new SnippetFailed(`${snippet.id}: ${why}; nothing ran`, snippet.id, 'touches');
}

function touchesFailure(snippet: LoadedSnippet, rowsChanged: TableChanges): SnippetFailed | undefined {
  const undeclared = undeclaredTables(rowsChanged, snippet.definition.touches);
  if (!undeclared.length) return undefined;
  // Spelled as touches must name them, quotes and all.
  const named = undeclared.map((table) => spellTable(table as QualifiedTable));
  return new SnippetFailed(
    `${snippet.id}: changed ${named.join(', ')}, not declared in touches; add the table to touches or fix the snippet (rolled back)`,
    snippet.id,
    'touches',
    { rowsChanged },
  );
}

function checkTouches(snippet: LoadedSnippet, rowsChanged: TableChanges): void {
  const failure = touchesFailure(snippet, rowsChanged);
  if (failure) throw failure;
}

/** A snippet changes data, never the schema: DDL belongs in the service's migrations. */
function schemaChange(snippet: LoadedSnippet, before: string[], after: string[]): SafetyRefusal | undefined {
  const { added, removed } = compareFingerprints(before, after);
  if (!added.length && !removed.length) return undefined;
  const first = added[0] ? `added ${added[0]}` : `removed ${removed[0]}`;
  const more = added.length + removed.length > 1 ? ` and ${added.length + removed.length - 1} more changes` : '';
  return new SafetyRefusal(
    `${snippet.displayPath}: changed the schema (${first}${more}); schema changes belong in the service's migrations (rolled back)`,
    'schema-changed',
    { subject: snippet.displayPath },
  );
}

async function checkSchemaUnchanged(tx: SnippetDb, snippet: LoadedSnippet, before: string[]): Promise<void> {
  const change = schemaChange(snippet, before, await schemaFingerprint(tx));
  if (change) throw change;
}

/**
 * Runs `down` and marks the snippet reverted, in one transaction. Under `dryRun` (a
 * rehearsal's undo check, inside its rolled-back run) nothing is recorded: a dry run's
 * apply wrote no ledger row to move.
 */
export async function revertSnippet(
  db: SnippetDb,
  snippet: LoadedSnippet,
  reason: string,
  options: ExecuteOptions & { dryRun?: boolean },
): Promise<{ rowsChanged: TableChanges; durationMs: number }> {
  const down = snippet.definition.down!;
  const dryRun = options.dryRun ?? false;
  const startedAt = Date.now();
  const guard = guardRecordFor(options, dryRun);
  return inTransaction(
    db,
    async (tx) => {
      const before = JSON.parse((await startTransaction(tx, options)).counts) as ChangeCounts;
      await runPhase(snippet, 'down', guard, tx, () => down(buildContext(tx, snippet, options, dryRun)));
      const rowsChanged = changesBetween(before, await changeCounts(tx));
      const durationMs = Date.now() - startedAt;
      if (dryRun) return { rowsChanged, durationMs };
      await snippetStore(tx, options.repo).markReverted(snippet.id, {
        repo: options.repo,
        snippetId: snippet.id,
        kind: 'reverted',
        checksum: snippet.checksum,
        ...options.audit,
        reason,
        detail: { durationMs, rowsChanged, ...outboundOf(guard) },
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
      await startTransaction(tx, { ...options, requireRepoLock: false });
      try {
        return await verifyInside(snippet, buildContext(tx, snippet, options, false), guardRecordFor(options, false), options);
      } catch (error) {
        if (error instanceof SnippetFailed) return { ok: false, message: error.message };
        throw error;
      }
    },
    false,
  );
}
