import { sql } from 'drizzle-orm';
import { discardBegunAhead } from './pipelined-transactions.ts';
import type { SnippetDb } from './snippet-db.ts';

/** What one snippet's transaction is told about committing (see ApplyOptions). */
export interface CommitPlan {
  deferFlush: boolean;
  beginNext?: { deferFlush: boolean };
}

/**
 * How a run's snippets commit, one after another on its connection. Every atomic snippet
 * but the last commits without waiting for the WAL flush (the last one's ordinary COMMIT
 * flushes them all), and an atomic snippet followed by another has the next one's
 * transaction begun behind its COMMIT. The run asks `planFor` each snippet, says what
 * committed, and ends with `finish`, or `abandon` when an error stops it.
 */
export class CommitSequence {
  /** A deferred-flush COMMIT that no synchronous one has followed yet. */
  private unflushed = false;

  constructor(
    private readonly db: SnippetDb,
    /** Per pending snippet, in order: whether it is one transaction of its own. */
    private readonly atomic: boolean[],
    private readonly dryRun: boolean,
  ) {}

  planFor(index: number): CommitPlan {
    const deferFlush = this.defersFlush(index);
    const beginNext = !this.dryRun && this.atomic[index] && this.atomic[index + 1] ? { deferFlush: this.defersFlush(index + 1) } : undefined;
    return beginNext ? { deferFlush, beginNext } : { deferFlush };
  }

  /** A transaction committed: deferred, or an ordinary COMMIT that made every earlier one durable. */
  committed(deferred: boolean): void {
    this.unflushed = deferred;
  }

  /** Makes every commit so far durable. */
  async finish(): Promise<void> {
    if (this.unflushed) await flushCommits(this.db);
  }

  /** After an error: ends a transaction begun ahead, then flushes, neither failing over the error that stopped the run. */
  async abandon(): Promise<void> {
    await discardBegunAhead(this.db);
    if (this.unflushed) await flushCommits(this.db).catch(() => undefined);
  }

  private defersFlush(index: number): boolean {
    return !this.dryRun && index < this.atomic.length - 1 && this.atomic[index] === true;
  }
}

/**
 * Makes every commit of the connection so far durable: a transaction that has an id
 * commits through a WAL flush up to its own commit record, which covers every earlier
 * one. It writes no row.
 */
async function flushCommits(db: SnippetDb): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.execute(sql`select pg_current_xact_id()`);
  });
}
