import type { BatchProgress } from '../batching.ts';
import type { SnippetDb } from '../define-snippet.ts';
import { SafetyRefusal, SnippetFailed } from '../errors.ts';
import { applySnippet, recordSquash, withRollback, type ApplyResult, type LogSink } from '../executor.ts';
import { appendEvent, ensureLedger, ledgerExists, type NewEvent } from '../ledger.ts';
import type { LoadedSnippet } from '../load-snippets.ts';
import { withRepoLock } from '../lock.ts';
import type { Refusal } from '../plan.ts';
import { withDatabase, type RepoSession, type SessionInput } from '../repo.ts';
import { planAgainst, prepareRun } from './plan.ts';

export interface RunOptions {
  expect?: string[];
  dryRun?: boolean;
  onLog: LogSink;
  /** Called before each snippet starts, for progress output. */
  onStart?: (snippet: LoadedSnippet) => void;
  /** Progress of batched snippets, after every batch. */
  onProgress?: (progress: BatchProgress) => void;
}

export interface RunReport {
  repo: string;
  database: string;
  dryRun: boolean;
  applied: ApplyResult[];
  /** The snippet that failed, if one did; the run stops there and later snippets stay pending. */
  failed: { id: string; phase: SnippetFailed['phase']; message: string; rowsChanged?: SnippetFailed['rowsChanged'] } | null;
  /** Pending snippets not attempted because an earlier one failed. */
  notRun: string[];
}

function eventBase(session: RepoSession): Pick<NewEvent, 'repo' | 'executedBy' | 'host' | 'gitSha' | 'image' | 'approvedBy' | 'ciRunUrl'> {
  return { repo: session.config.repo, ...session.audit };
}

/** Refusals are audited when the ledger exists; a refused run never creates it. */
async function refuse(db: SnippetDb, session: RepoSession, refusals: Refusal[]): Promise<never> {
  if (await ledgerExists(db)) {
    await appendEvent(db, {
      ...eventBase(session),
      kind: 'refused',
      reason: refusals[0]!.message,
      detail: { refusals },
    });
  }
  const more = refusals.length > 1 ? ` (and ${refusals.length - 1} more refusal${refusals.length > 2 ? 's' : ''})` : '';
  throw new SafetyRefusal(`${refusals[0]!.message}${more}`, refusals[0]!.check, { subject: refusals[0]!.subject });
}

/**
 * `snippets run`: under the repo's advisory lock, re-reads the ledger, refuses on any
 * safety check, then applies each pending snippet in its own transaction and stops at
 * the first failure. `dryRun` runs the same work in one transaction and rolls it back.
 */
export async function run(input: SessionInput, options: RunOptions): Promise<RunReport> {
  const prepared = await prepareRun(input, options);
  const { session } = prepared;
  const dryRun = options.dryRun ?? false;
  return withDatabase(session.target, (database) =>
    withRepoLock(database.db, session.config.repo, session.config.timeouts.runLockWaitMs, async () => {
      const { pending, refusals } = await planAgainst(prepared, database, options);
      if (refusals.length) await refuse(database.db, session, refusals);

      const report: RunReport = {
        repo: session.config.repo,
        database: database.display,
        dryRun,
        applied: [],
        failed: null,
        notRun: [],
      };
      const executeOptions = {
        repo: session.config.repo,
        audit: session.audit,
        timeouts: session.config.timeouts,
        onLog: options.onLog,
        onProgress: options.onProgress,
        requireRepoLock: true,
        dryRun,
      };

      const runAll = async (db: SnippetDb) => {
        for (const [index, snippet] of pending.entries()) {
          options.onStart?.(snippet);
          if (!dryRun) {
            await appendEvent(db, { ...eventBase(session), snippetId: snippet.id, kind: 'started', checksum: snippet.checksum });
          }
          try {
            const execute = snippet.replaces ? recordSquash : applySnippet;
            report.applied.push(await execute(db, snippet, executeOptions));
          } catch (error) {
            if (error instanceof SafetyRefusal && !dryRun) {
              await appendEvent(db, { ...eventBase(session), snippetId: snippet.id, kind: 'refused', checksum: snippet.checksum, reason: error.message, detail: { check: error.check } });
            }
            if (!(error instanceof SnippetFailed)) throw error;
            report.failed = { id: snippet.id, phase: error.phase, message: error.message, rowsChanged: error.rowsChanged };
            report.notRun = pending.slice(index + 1).map((s) => s.id);
            if (!dryRun) {
              await appendEvent(db, {
                ...eventBase(session),
                snippetId: snippet.id,
                kind: 'failed',
                checksum: snippet.checksum,
                reason: error.message,
                detail: { phase: error.phase },
              });
            }
            return;
          }
        }
      };

      if (dryRun) {
        // One transaction for the whole dry run, so each snippet sees the ones before it.
        await withRollback(database.db, async (tx) => {
          await ensureLedger(tx); // batched snippets checkpoint; all of it is rolled back
          await runAll(tx);
        });
      } else {
        if (pending.length) await ensureLedger(database.db);
        await runAll(database.db);
      }
      return report;
    }),
  );
}
