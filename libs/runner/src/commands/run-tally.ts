import type { SnippetDb } from '../database/snippet-db.ts';
import { describeCause, RunInterrupted, SafetyRefusal, SnippetFailed } from '../errors.ts';
import type { ApplyResult, HelpResult } from '../execution/executor.ts';
import type { Refusal } from '../planning/plan.ts';
import type { RepoSession } from '../repo.ts';
import type { LoadedSnippet } from '../snippets/load-snippets.ts';
import type { AtomicWrites } from '../store/atomic-writes.ts';
import type { NewEvent } from '../store/ledger-schema.ts';
import { snippetStore, type PlanLedgerRow } from '../store/snippet-store.ts';

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

/** A batched snippet's batches commit on their own; any other snippet is one transaction (a squash is recorded, never run). */
export const committedApart = (snippet: LoadedSnippet) => snippet.definition.transaction === 'batched' && !snippet.replaces;

/**
 * A run's account of itself as it goes: the report it returns, and the audit events of
 * each snippet's attempt and outcome, written where they commit with what they describe.
 */
export class RunTally {
  readonly report: RunReport;
  private pending: LoadedSnippet[] = [];

  constructor(
    private readonly session: RepoSession,
    expect: string[] | undefined,
    private readonly dryRun: boolean,
  ) {
    this.report = {
      repo: session.config.repo,
      database: session.target.display,
      dryRun,
      applied: [],
      failed: null,
      notRun: [],
      helped: [],
      expected: expect ?? null,
      stopped: null,
      alreadyApplied: [],
    };
  }

  /** The plan under the lock: what it will apply, and which expected snippets the ledger already had. */
  planned(pending: LoadedSnippet[], ledger: PlanLedgerRow[]): void {
    this.pending = pending;
    const expected = new Set(this.report.expected ?? []);
    this.report.alreadyApplied = ledger
      .filter((row) => expected.has(row.id) && row.status !== 'reverted')
      .map((row) => ({ id: row.id, finishedAt: row.finishedAt?.toISOString() ?? null }));
  }

  /** Refuses the run before any snippet: audited when the ledger exists, as a refused run never creates it. */
  async refuse(db: SnippetDb, refusals: Refusal[]): Promise<never> {
    this.report.notRun = this.pending.map((s) => s.id);
    const store = snippetStore(db, this.session.config.repo);
    if (await store.exists()) {
      await store.appendEvents([{ ...this.eventBase(), kind: 'refused', reason: refusals[0]!.message, detail: { refusals } }]);
    }
    const more = refusals.length > 1 ? ` (and ${refusals.length - 1} more refusal${refusals.length > 2 ? 's' : ''})` : '';
    throw new SafetyRefusal(`${refusals[0]!.message}${more}`, refusals[0]!.check, { subject: refusals[0]!.subject });
  }

  /** Interrupted between snippets: nothing of the one at `index` began, so it is simply not run, like the ones after it. */
  interruptedBefore(index: number): RunInterrupted {
    const message = `interrupted before ${this.pending[index]!.id}: ${index} of ${this.pending.length} pending snippet(s) were applied; run again to apply the rest`;
    this.report.stopped = { reason: 'interrupted', message };
    this.report.notRun = this.pending.slice(index).map((s) => s.id);
    return new RunInterrupted(message);
  }

  /**
   * The snippet's 'started' event. A batched snippet's batches commit on their own, so its
   * attempt goes on record now, and a failure keeps the batches it finished; any other
   * snippet's is returned, to commit with its ledger row (none under a dry run).
   */
  async started(db: SnippetDb, snippet: LoadedSnippet): Promise<NewEvent | undefined> {
    if (this.dryRun) return undefined;
    // No time of its own: the server's clock stamps it when the snippet's work begins (see ServerTime).
    const started = this.eventOf(snippet, 'started');
    if (!committedApart(snippet)) return started;
    await snippetStore(db, this.session.config.repo).appendEvents([started]);
    return undefined;
  }

  applied(result: ApplyResult): void {
    this.report.applied.push(result);
  }

  /**
   * The snippet at `index` stopped the run with `error`: the report says where, and its
   * outcome goes on record. Returns for a failed snippet (the run ends there), throws
   * anything else: a refusal, an interruption, an error.
   */
  async stoppedAt(index: number, error: unknown, writes: AtomicWrites): Promise<void> {
    const snippet = this.pending[index]!;
    const batched = committedApart(snippet);
    this.report.notRun = this.pending.slice(index + 1).map((s) => s.id);
    // The rollback took 'started' with it: the attempt goes on record with its outcome.
    const outcome: NewEvent[] = batched ? [] : [this.eventOf(snippet, 'started')];
    if (error instanceof SafetyRefusal) {
      this.report.stopped = { reason: 'refused', id: snippet.id, check: error.check, message: error.message, batched };
      outcome.push(this.eventOf(snippet, 'refused', { reason: error.message, detail: { check: error.check } }));
    }
    if (error instanceof SnippetFailed) {
      this.report.failed = { id: snippet.id, phase: error.phase, message: error.message, rowsChanged: error.rowsChanged, batched };
      outcome.push(this.eventOf(snippet, 'failed', { reason: error.message, detail: { phase: error.phase, ...(error.escape && { escape: error.escape }) } }));
    }
    if (!this.dryRun) {
      const recorded = writes.recordOutcome(this.session.config.repo, outcome);
      // After an unexpected error the connection may be gone as well; that error says more.
      await (error instanceof SafetyRefusal || error instanceof SnippetFailed ? recorded : recorded.catch(() => {}));
    }
    if (error instanceof SnippetFailed) return;
    // An interrupted batched snippet keeps its finished batches: it is resumed, not rolled back.
    if (error instanceof RunInterrupted) this.report.stopped = { reason: 'interrupted', id: snippet.id, message: error.message, batched: true };
    this.report.stopped ??= { reason: 'error', id: snippet.id, message: describeCause(error), batched };
    throw error;
  }

  /** A refusal of the run's release lock before the snippet at `index`: it is where the run stopped. */
  lostLease(index: number, error: SafetyRefusal): SafetyRefusal {
    const snippet = this.pending[index]!;
    this.report.stopped = { reason: 'refused', id: snippet.id, check: error.check, message: error.message, batched: committedApart(snippet) };
    this.report.notRun = this.pending.slice(index + 1).map((s) => s.id);
    return error;
  }

  /** The run ended with `error`: the report keeps what it had committed, and goes with the error (see `reportOfStoppedRun`). */
  ended(error: unknown): void {
    const check = error instanceof SafetyRefusal ? error.check : undefined;
    const reason = error instanceof SafetyRefusal ? 'refused' : error instanceof RunInterrupted ? 'interrupted' : 'error';
    this.report.stopped ??= { reason, check, message: error instanceof Error ? error.message : String(error) };
    // A dry run rolled everything back: nothing it applied is left.
    if (this.dryRun) this.report.applied = [];
    if (typeof error === 'object' && error !== null) stoppedRuns.set(error, this.report);
  }

  private eventBase(): Pick<NewEvent, 'repo' | 'executedBy' | 'host' | 'gitSha' | 'image' | 'approvedBy' | 'ciRunUrl'> {
    return { repo: this.session.config.repo, ...this.session.audit };
  }

  /** An audit event of this run about `snippet`. */
  private eventOf(snippet: LoadedSnippet, kind: NewEvent['kind'], more: Pick<NewEvent, 'reason' | 'detail'> = {}): NewEvent {
    return { ...this.eventBase(), snippetId: snippet.id, kind, checksum: snippet.checksum, ...more };
  }
}
