import type { BatchProgress } from '../batching/batching.ts';
import type { SnippetDb } from '../database/snippet-db.ts';
import { describeCause, InputError, RunInterrupted, SafetyRefusal, SnippetFailed } from '../errors.ts';
import { openDatabase, type Database, type DatabaseTarget } from '../database/database.ts';
import {
  applySnippet,
  helpBatched,
  recordSquash,
  withRollback,
  type ApplyOptions,
  type ApplyResult,
  type ExecuteOptions,
  type HelpResult,
  type LogSink,
} from '../execution/executor.ts';
import type { NewEvent } from '../store/ledger-schema.ts';
import { snippetStore } from '../store/snippet-store.ts';
import { atomicWrites, type AtomicWrites } from '../store/atomic-writes.ts';
import { loadSnippets, type LoadedSnippet } from '../snippets/load-snippets.ts';
import { withRepoLock } from '../database/lock.ts';
import { SchemaBaseline } from '../checks/schema-fingerprint.ts';
import { keepLease, type KeptLease } from '../locks/lease-keeper.ts';
import { lockHolder } from './lock.ts';
import type { Refusal } from '../planning/plan.ts';
import { withDatabase, type RepoSession, type SessionInput } from '../repo.ts';
import { planAgainst, prepareRun, type RunSetup } from './plan.ts';

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
}

export interface RunReport {
  repo: string;
  database: string;
  dryRun: boolean;
  applied: ApplyResult[];
  /** The snippet that failed, if one did; the run stops there and later snippets stay pending. */
  failed: { id: string; phase: SnippetFailed['phase']; message: string; rowsChanged?: SnippetFailed['rowsChanged']; batched: boolean } | null;
  /** Pending snippets not attempted because an earlier one failed. */
  notRun: string[];
  /** Batched snippets of another runner this process worked on while waiting for the lock. */
  helped: HelpResult[];
  /** The pending set the run was told to expect (`--expect`, `--expect-from-git`), if any. */
  expected: string[] | null;
  /**
   * What ended the run before its pending set was done, other than a failed snippet: a
   * refusal, an interruption or an error. The snippets in `applied` committed before it;
   * `id` is the snippet it stopped at: rolled back, or for an interruption a batched
   * snippet stopped between its batches, which are kept (none when it stopped between
   * snippets); `notRun` the rest. `batched` (also on `failed`): the snippet committed batch
   * by batch, so its finished batches are kept, not rolled back.
   */
  stopped: { reason: 'refused' | 'interrupted' | 'error'; id?: string; check?: string; message: string; batched?: boolean } | null;
  /**
   * Expected snippets the ledger already had when this run began, e.g. committed by an
   * earlier run of the same pipeline that was killed: when each finished.
   */
  alreadyApplied: { id: string; finishedAt: string | null }[];
}

const stoppedRuns = new WeakMap<object, RunReport>();

/**
 * The report of a run an error ended: what it applied, and so committed, before it. Only
 * errors thrown once the run had its database have one; before that nothing ran.
 */
export function reportOfStoppedRun(error: unknown): RunReport | undefined {
  return typeof error === 'object' && error !== null ? stoppedRuns.get(error) : undefined;
}

function stopReason(error: unknown): NonNullable<RunReport['stopped']>['reason'] {
  return error instanceof SafetyRefusal ? 'refused' : error instanceof RunInterrupted ? 'interrupted' : 'error';
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
 * What a runner does while another one holds the repo lock: if that one is in the middle
 * of a batched snippet this process has the same file of, work its ranges too. The
 * returned function says whether rows got done. A snippet whose batch failed here is left
 * to the lock holder, which records the failure.
 */
function helpWhileWaiting(db: SnippetDb, load: (id: string) => Promise<LoadedSnippet | undefined>, options: ExecuteOptions, report: RunReport, onHelp?: RunOptions['onHelp']): () => Promise<boolean> {
  const announced = new Set<string>();
  const failed = new Set<string>();
  return async () => {
    const inProgress = await snippetStore(db, options.repo).walksUnderWay();
    for (const { id, checksum } of inProgress) {
      if (failed.has(id)) continue;
      const snippet = await load(id);
      if (!snippet || snippet.checksum !== checksum || snippet.definition.transaction !== 'batched') continue;
      if (!announced.has(id)) onHelp?.(snippet);
      announced.add(id);
      let helped: HelpResult;
      try {
        helped = await helpBatched(db, snippet, options);
      } catch (error) {
        if (!(error instanceof SnippetFailed)) throw error;
        failed.add(id);
        options.onLog(id, 'warn', `stopped helping: ${error.message}`);
        continue;
      }
      if (!helped.rows) continue;
      const earlier = report.helped.find((h) => h.id === id);
      if (earlier) Object.assign(earlier, { rows: earlier.rows + helped.rows, batches: earlier.batches + helped.batches });
      else report.helped.push(helped);
      return true;
    }
    return false;
  };
}

function eventBase(session: RepoSession): Pick<NewEvent, 'repo' | 'executedBy' | 'host' | 'gitSha' | 'image' | 'approvedBy' | 'ciRunUrl'> {
  return { repo: session.config.repo, ...session.audit };
}

/** Refusals are audited when the ledger exists; a refused run never creates it. */
async function refuse(db: SnippetDb, session: RepoSession, refusals: Refusal[]): Promise<never> {
  const store = snippetStore(db, session.config.repo);
  if (await store.exists()) {
    await store.appendEvents([{ ...eventBase(session), kind: 'refused', reason: refusals[0]!.message, detail: { refusals } }]);
  }
  const more = refusals.length > 1 ? ` (and ${refusals.length - 1} more refusal${refusals.length > 2 ? 's' : ''})` : '';
  throw new SafetyRefusal(`${refusals[0]!.message}${more}`, refusals[0]!.check, { subject: refusals[0]!.subject });
}

/** Loads a snippet of the repo by id, once; undefined when the repo has none by that id. */
function snippetLoader(session: RepoSession): (id: string) => Promise<LoadedSnippet | undefined> {
  const loaded = new Map<string, Promise<LoadedSnippet | undefined>>();
  return (id) => {
    if (!loaded.has(id)) loaded.set(id, loadSnippets(session.files, session.config.repoRoot, (file) => file.id === id).then(([snippet]) => snippet));
    return loaded.get(id)!;
  };
}

/**
 * `snippets run`: under the repo's advisory lock, re-reads the ledger, refuses on any
 * safety check, then applies each pending snippet in its own transaction and stops at
 * the first failure. `dryRun` runs the same work in one transaction and rolls it back.
 * While another runner holds the lock, helps it with its batched snippet, if any.
 */
export async function run(input: SessionInput, options: RunOptions): Promise<RunReport> {
  const prepared = await prepareRun(input, options);
  const { session } = prepared;
  const dryRun = options.dryRun ?? false;
  const report: RunReport = {
    repo: session.config.repo,
    database: session.target.display,
    dryRun,
    applied: [],
    failed: null,
    notRun: [],
    helped: [],
    expected: prepared.expect ?? null,
    stopped: null,
    alreadyApplied: [],
  };
  try {
    return await runWithDatabase(input, prepared, options, report);
  } catch (error) {
    const check = error instanceof SafetyRefusal ? error.check : undefined;
    report.stopped ??= { reason: stopReason(error), check, message: error instanceof Error ? error.message : String(error) };
    // A dry run rolled everything back: nothing it applied is left.
    if (dryRun) report.applied = [];
    if (typeof error === 'object' && error !== null) stoppedRuns.set(error, report);
    throw error;
  }
}

async function runWithDatabase(input: SessionInput, prepared: RunSetup, options: RunOptions, report: RunReport): Promise<RunReport> {
  const { session } = prepared;
  const dryRun = options.dryRun ?? false;
  return withDatabase(session.target, async (database) => {
    // A dry run is one transaction, which one connection holds.
    const workers = await openWorkers(session.target, dryRun ? 1 : (options.workers ?? 1));
    const executeOptions = {
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
      setting: options.rehearsal ? ('rehearsal' as const) : undefined,
      outboundAllow: session.config.outbound.allow,
    };
    // A dry run never helps: its work must roll back, and another runner's batches commit.
    const help = helpWhileWaiting(database.db, snippetLoader(session), executeOptions, report, options.onHelp);
    const whileWaiting = () => (dryRun ? Promise.resolve(false) : help());
    const lease = options.lock ? await keepLease(database, session.target, session.config.repo, options.lock, lockHolder(input.env, options.holder), options.onLog) : undefined;
    try {
      const locked = () => runPending(prepared, database, options, executeOptions, report, lease);
      return await withRepoLock(database.db, session.config.repo, session.config.timeouts.runLockWaitMs, locked, whileWaiting);
    } finally {
      await lease?.stop();
      await Promise.all(workers.map((w) => w.close()));
    }
  });
}

/** One transaction of its own: not batched (its batches commit apart), not a squash (recorded, never run). */
const isAtomic = (snippet: LoadedSnippet) => snippet.definition.transaction !== 'batched' && !snippet.replaces;

/** Plans under the lock and applies the pending snippets in order, stopping at the first failure. */
async function runPending(
  prepared: RunSetup,
  database: Database,
  options: RunOptions,
  executeOptions: ApplyOptions,
  report: RunReport,
  lease?: KeptLease,
): Promise<RunReport> {
  const { session } = prepared;
  const { dryRun } = executeOptions;
  const { pending, refusals, ledger } = await planAgainst(prepared, database);
  const expected = new Set(prepared.expect ?? []);
  report.alreadyApplied = ledger
    .filter((row) => expected.has(row.id) && row.status !== 'reverted')
    .map((row) => ({ id: row.id, finishedAt: row.finishedAt?.toISOString() ?? null }));
  if (refusals.length) {
    report.notRun = pending.map((s) => s.id);
    await refuse(database.db, session, refusals);
  }

  const runAll = async (target: { db: SnippetDb; pipelined?: Database['pipelined'] }) => {
    const { db } = target;
    const commits = atomicWrites(target, pending.map(isAtomic));
    try {
      await applyInOrder(db, commits);
    } catch (error) {
      await commits.abandon();
      throw error;
    }
    await commits.finish();
  };

  const applyInOrder = async (db: SnippetDb, commits: AtomicWrites) => {
    for (const [index, snippet] of pending.entries()) {
      // A batched snippet's batches commit on their own, so its attempt goes on record first,
      // and a failure keeps the batches it finished. Any other snippet is one transaction.
      const startedApart = snippet.definition.transaction === 'batched' && !snippet.replaces;
      const stopAt = (error: SafetyRefusal) => {
        report.stopped = { reason: 'refused', id: snippet.id, check: error.check, message: error.message, batched: startedApart };
        report.notRun = pending.slice(index + 1).map((s) => s.id);
        return error;
      };
      if (options.signal?.aborted) {
        // Nothing of this snippet began: it is simply not run, like the ones after it.
        const message = `interrupted before ${snippet.id}: ${index} of ${pending.length} pending snippet(s) were applied; run again to apply the rest`;
        report.stopped = { reason: 'interrupted', message };
        report.notRun = pending.slice(index).map((s) => s.id);
        throw new RunInterrupted(message);
      }
      try {
        await lease?.check(snippet.id);
      } catch (error) {
        throw error instanceof SafetyRefusal ? stopAt(error) : error;
      }
      options.onStart?.(snippet);
      // No time of its own: the server's clock stamps it when the snippet's work begins (see ServerTime).
      const started: NewEvent = { ...eventBase(session), snippetId: snippet.id, kind: 'started', checksum: snippet.checksum };
      // A batched snippet's batches commit on their own, so its attempt goes on record first.
      // Any other snippet is one transaction, which commits 'started' with its ledger row.
      if (!dryRun && startedApart) await snippetStore(db, session.config.repo).appendEvents([started]);
      try {
        const execute = snippet.replaces ? recordSquash : applySnippet;
        const writes = isAtomic(snippet) ? commits.at(index) : undefined;
        report.applied.push(await execute(db, snippet, { ...executeOptions, started: dryRun || startedApart ? undefined : started, writes }));
      } catch (error) {
        // The rollback took 'started' with it: the attempt goes on record with its outcome.
        const outcome: NewEvent[] = startedApart ? [] : [started];
        if (error instanceof SafetyRefusal) {
          stopAt(error);
          outcome.push({ ...eventBase(session), snippetId: snippet.id, kind: 'refused', checksum: snippet.checksum, reason: error.message, detail: { check: error.check } });
        }
        if (error instanceof SnippetFailed) {
          report.failed = { id: snippet.id, phase: error.phase, message: error.message, rowsChanged: error.rowsChanged, batched: startedApart };
          report.notRun = pending.slice(index + 1).map((s) => s.id);
          outcome.push({ ...eventBase(session), snippetId: snippet.id, kind: 'failed', checksum: snippet.checksum, reason: error.message, detail: { phase: error.phase, ...(error.escape && { escape: error.escape }) } });
        }
        if (!dryRun) {
          const recorded = commits.recordOutcome(session.config.repo, outcome);
          // After an unexpected error the connection may be gone as well; that error says more.
          await (error instanceof SafetyRefusal || error instanceof SnippetFailed ? recorded : recorded.catch(() => {}));
        }
        if (!(error instanceof SnippetFailed)) {
          // An interrupted batched snippet keeps its finished batches: it is resumed, not rolled back.
          if (error instanceof RunInterrupted) report.stopped = { reason: 'interrupted', id: snippet.id, message: error.message, batched: true };
          report.stopped ??= { reason: 'error', id: snippet.id, message: describeCause(error), batched: startedApart };
          report.notRun = pending.slice(index + 1).map((s) => s.id);
          throw error;
        }
        return;
      }
    }
  };

  if (dryRun) {
    // One transaction for the whole dry run, so each snippet sees the ones before it.
    await withRollback(database.db, async (tx) => {
      await snippetStore(tx, session.config.repo).upgrade(); // batched snippets checkpoint; all of it is rolled back
      await runAll({ db: tx });
    });
  } else {
    if (pending.length) await snippetStore(database.db, session.config.repo).upgrade();
    await runAll(database);
  }
  return report;
}
