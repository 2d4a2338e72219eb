import { sql, type SQL } from 'drizzle-orm';
import { sha256 } from '../checksum.ts';
import type { SnippetDb } from './snippet-db.ts';
import { queryRows } from './queries.ts';
import { SafetyRefusal } from '../errors.ts';

/** First key of every advisory lock the runner takes ('snip'), so they never clash with the service's. */
const LOCK_NAMESPACE = 0x736e6970;

function repoLockKey(repo: string): number {
  return Buffer.from(sha256(`repo:${repo}`), 'hex').readInt32BE(0);
}

/** How often a runner waiting for the repo lock tries again. */
const RETRY_MS = 200;

/**
 * Runs `fn` holding the repo's session-level advisory lock, so concurrent runners of one
 * repo serialise. Waits up to `waitMs` for another holder (0 waits forever); meanwhile
 * `whileWaiting` may do useful work (helping the holder's batched snippet) and returns
 * true when it did, which restarts the wait: the holder is alive and making progress.
 */
export async function withRepoLock<T>(
  db: SnippetDb,
  repo: string,
  waitMs: number,
  fn: () => Promise<T>,
  whileWaiting: () => Promise<boolean> = async () => false,
): Promise<T> {
  const key = repoLockKey(repo);
  let deadline = waitMs ? Date.now() + waitMs : Infinity;
  for (;;) {
    const [row] = await queryRows<{ got: boolean }>(db, sql`select pg_try_advisory_lock(${LOCK_NAMESPACE}, ${key}) as got`);
    if (row?.got) break;
    if (Date.now() >= deadline) {
      throw new SafetyRefusal(
        `another snippets runner of repo '${repo}' held the lock for longer than ${Math.round(waitMs / 1000)}s; wait for it to finish or raise timeouts.runLockWait`,
        'lock-held',
      );
    }
    if (await whileWaiting()) deadline = waitMs ? Date.now() + waitMs : Infinity;
    else await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
  try {
    return await fn();
  } finally {
    await db.execute(sql`select pg_advisory_unlock(${LOCK_NAMESPACE}, ${key})`);
  }
}

/**
 * A condition for each snippet's transaction: no other session holds the repo lock. The
 * transaction takes it too, at transaction level, which costs a lookup in this backend's
 * own lock table where reading pg_locks copies the server's. A run's connection holds it
 * already; one that lost it (reset, or a snippet released it) still runs only while no
 * other runner has it, and another runner's waits until this transaction ends.
 */
export function repoLockForTransaction(repo: string): SQL {
  return sql`pg_try_advisory_xact_lock(${LOCK_NAMESPACE}, ${repoLockKey(repo)})`;
}

/**
 * A condition: the backend `pid` holds the repo lock, for a helper to find a runner at work.
 * pg_locks shows the two int4 keys as unsigned oids.
 */
export function repoLockHeldBy(repo: string, pid: SQL): SQL {
  const objid = repoLockKey(repo) >>> 0;
  return sql`exists (
    select 1 from pg_locks
    where locktype = 'advisory' and pid = ${pid} and granted
      and classid = ${String(LOCK_NAMESPACE)}::oid and objid = ${String(objid)}::oid and objsubid = 2)`;
}
