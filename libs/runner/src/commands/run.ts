import type { BatchProgress } from '../batching/batching.ts';
import { SchemaBaseline } from '../checks/schema-fingerprint.ts';
import { openDatabase, type Database, type DatabaseTarget } from '../database/database.ts';
import { withRepoLock } from '../database/lock.ts';
import type { SnippetDb } from '../database/snippet-db.ts';
import { InputError, SafetyRefusal } from '../errors.ts';
import { applySnippet, recordSquash, withRollback, type ApplyOptions, type LogSink } from '../execution/executor.ts';
import { keepLease, type KeptLease } from '../locks/lease-keeper.ts';
import { withDatabase, type SessionInput } from '../repo.ts';
import type { LoadedSnippet } from '../snippets/load-snippets.ts';
import { atomicWrites, type AtomicWrites } from '../store/atomic-writes.ts';
import { snippetStore } from '../store/snippet-store.ts';
import { helpWhileWaiting, snippetLoader } from './help-while-waiting.ts';
import { lockHolder } from './lock.ts';
import { planAgainst, prepareRun, type RunSetup } from './plan.ts';
import { committedApart, RunTally, type RunReport } from './run-tally.ts';
import { inputLocations, unusedInputFlags, prepareInputs, type InputLocations } from '../inputs/prepare-inputs.ts';
import { createLocalCopies } from '../inputs/local-copies.ts';

export { reportOfStoppedRun, type RunReport } from './run-tally.ts';

export interface RunOptions {
  expect?: string[];
  /** BASE..HEAD: expect exactly the snippets the merge added. */
  expectFromGit?: string;
  /** A release lock the run must hold, and keeps renewing, while it works. */
  lock?: string;
  /** The lease's holder, as given to `snippets lock acquire`. */
  holder?: string;
  dryRun?: boolean;
  onLog: LogSink;
  /** Called before each snippet starts, for progress output. */
  onStart?: (snippet: LoadedSnippet) => void;
  /** Progress of batched snippets, after every batch. */
  onProgress?: (progress: BatchProgress) => void;
  /** Called when, waiting for the repo lock, this process joins another runner's batched snippet. */
  onHelp?: (snippet: LoadedSnippet) => void;
  /** Connections working a batched snippet's key ranges at once. Default 1. */
  workers?: number;
  /** Aborted, the run stops before its next snippet (the one under way finishes) with RunInterrupted. */
  signal?: AbortSignal;
  /** A gates rehearsal: snippet code may reach no outside host, as under a dry run (see connection-guard.ts). */
  rehearsal?: boolean;
  /** `--input` entries, `name=location` or `snippetId/name=location`; SNIPPETS_INPUTS in the environment adds more. */
  inputs?: string[];
}

const MAX_WORKERS = 64;

/** The extra connections of `--workers N`: PostgreSQL only, PGlite is one connection. */
async function openWorkers(target: DatabaseTarget, workers: number): Promise<Database[]> {
  if (!Number.isInteger(workers) || workers < 1 || workers > MAX_WORKERS) {
    throw new InputError(`--workers ${workers}: give a whole number from 1 to ${MAX_WORKERS}`, { subject: '--workers' });
  }
  if (workers > 1 && target.driver === 'pglite') {
    throw new InputError(`--workers ${workers}: ${target.display} is one connection; use --workers 1, or a PostgreSQL DATABASE_URL for parallel workers`, {
      subject: '--workers',
    });
  }
  const extra: Database[] = [];
  try {
    for (let i = 1; i < workers; i++) extra.push(await openDatabase(target));
  } catch (error) {
    await Promise.all(extra.map((d) => d.close()));
    throw error;
  }
  return extra;
}

/**
 * `snippets run`: under the repo's advisory lock, re-reads the ledger, refuses on any
 * safety check, then applies each pending snippet in its own transaction and stops at
 * the first failure. `dryRun` runs the same work in one transaction and rolls it back.
 * While another runner holds the lock, helps it with its batched snippet, if any.
 */
export async function run(input: SessionInput, options: RunOptions): Promise<RunReport> {
  const locations = inputLocations(options.inputs, input.env);
  const prepared = { ...(await prepareRun(input, options)), locations, env: input.env };
  const tally = new RunTally(prepared.session, prepared.expect, options.dryRun ?? false);
  try {
    return await runWithDatabase(input, prepared, options, tally);
  } catch (error) {
    tally.ended(error);
    throw error;
  }
}

/** A run's setup: the plan's, and where its inputs are. */
type RunInputsSetup = RunSetup & { locations: InputLocations; env: SessionInput['env'] };

async function runWithDatabase(input: SessionInput, prepared: RunInputsSetup, options: RunOptions, tally: RunTally): Promise<RunReport> {
  const { session } = prepared;
  const dryRun = options.dryRun ?? false;
  return withDatabase(session.target, async (database) => {
    // A dry run is one transaction, which one connection holds.
    const workers = await openWorkers(session.target, dryRun ? 1 : (options.workers ?? 1));
    const executeOptions: ApplyOptions = {
      repo: session.config.repo,
      audit: session.audit,
      timeouts: session.config.timeouts,
      onLog: options.onLog,
      onProgress: options.onProgress,
      requireRepoLock: true,
      dryRun,
      workers: workers.map((w) => w.db),
      schema: new SchemaBaseline(),
      signal: options.signal,
      setting: options.rehearsal ? 'rehearsal' : undefined,
      outboundAllow: session.config.outbound.allow,
    };
    // A dry run never helps: its work must roll back, and another runner's batches commit.
    const help = helpWhileWaiting(database.db, snippetLoader(session), executeOptions, tally.report.helped, options.onHelp);
    const whileWaiting = () => (dryRun ? Promise.resolve(false) : help());
    const lease = options.lock ? await keepLease(database, session.target, session.config.repo, options.lock, lockHolder(input.env, options.holder), options.onLog) : undefined;
    try {
      const locked = () => runPending(prepared, database, options, executeOptions, tally, lease);
      return await withRepoLock(database.db, session.config.repo, session.config.timeouts.runLockWaitMs, locked, whileWaiting);
    } finally {
      await lease?.stop();
      await Promise.all(workers.map((w) => w.close()));
    }
  });
}

/** One transaction of its own: not batched (its batches commit apart), not a squash (recorded, never run). */
const isAtomic = (snippet: LoadedSnippet) => !committedApart(snippet) && !snippet.replaces;

/** Plans under the lock and applies the pending snippets in order, stopping at the first failure. */
async function runPending(prepared: RunInputsSetup, database: Database, options: RunOptions, executeOptions: ApplyOptions, tally: RunTally, lease?: KeptLease): Promise<RunReport> {
  const { pending, refusals, ledger } = await planAgainst(prepared, database);
  tally.planned(pending, ledger);
  if (refusals.length) await tally.refuse(database.db, refusals);
  for (const key of unusedInputFlags(prepared.locations, pending)) options.onLog('run', 'warn', `--input ${key}=…: no snippet this run applies declares an input '${key}'; ignored`);
  const copies = pending.some((s) => Object.keys(s.definition.inputs ?? {}).length) ? createLocalCopies() : undefined;
  try {
    const inputs =
      copies &&
      (await prepareInputs(pending, { repoRoot: prepared.session.config.repoRoot, manifest: prepared.manifest, locations: prepared.locations, env: prepared.env, copies }).catch(
        // An input that is not the approved file is refused on the record, as the plan's refusals are.
        (error: unknown) => (error instanceof SafetyRefusal ? tally.refuse(database.db, [{ check: error.check, subject: error.subject ?? '', message: error.message }]) : Promise.reject(error)),
      ));
    return await applyPending(prepared, pending, database, options, { ...executeOptions, inputs }, tally, lease);
  } finally {
    copies?.remove();
  }
}

/** Applies the planned snippets in order, each in its own transaction, stopping at the first failure. */
async function applyPending(prepared: RunSetup, pending: LoadedSnippet[], database: Database, options: RunOptions, executeOptions: ApplyOptions, tally: RunTally, lease?: KeptLease): Promise<RunReport> {
  const applyInOrder = async (db: SnippetDb, writes: AtomicWrites) => {
    for (const [index, snippet] of pending.entries()) {
      if (options.signal?.aborted) throw tally.interruptedBefore(index);
      await lease?.check(snippet.id).catch((error: unknown) => {
        throw error instanceof SafetyRefusal ? tally.lostLease(index, error) : error;
      });
      options.onStart?.(snippet);
      const started = await tally.started(db, snippet);
      try {
        const execute = snippet.replaces ? recordSquash : applySnippet;
        tally.applied(await execute(db, snippet, { ...executeOptions, started, writes: isAtomic(snippet) ? writes.at(index) : undefined }));
      } catch (error) {
        return tally.stoppedAt(index, error, writes);
      }
    }
  };

  const applyAll = async (target: Pick<Database, 'db' | 'pipelined'>) => {
    if (pending.length) await snippetStore(target.db, prepared.session.config.repo).upgrade(); // under a dry run, rolled back with the rest
    const writes = atomicWrites(target, { atomic: pending.map(isAtomic), dryRun: executeOptions.dryRun });
    try {
      await applyInOrder(target.db, writes);
    } catch (error) {
      await writes.abandon();
      throw error;
    }
    await writes.finish();
  };

  // A dry run is one transaction, rolled back, so each snippet sees the ones before it.
  if (executeOptions.dryRun) await withRollback(database.db, (tx) => applyAll({ db: tx }));
  else await applyAll(database);
  return tally.report;
}
