import { openDatabase, type Database, type DatabaseTarget } from '../database/database.ts';
import { SafetyRefusal } from '../errors.ts';
import type { LogSink } from '../execution/executor.ts';
import { snippetStore } from '../store/snippet-store.ts';
import { releaseLeases } from '../store/release-leases.ts';

export interface KeptLease {
  /** Renews the lease, and refuses to start `snippetId` once it is lost. */
  check(snippetId: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * `run --lock NAME`: the run starts only if `holder` holds the release lock, and renews
 * the lease every third of its time-to-live while it works, on a connection of its own
 * (the run's own is inside long transactions). On PGlite, one connection, it renews
 * between snippets only.
 */
export async function keepLease(database: Database, target: DatabaseTarget, repo: string, name: string, holder: string, onLog: LogSink): Promise<KeptLease> {
  const lease = await releaseLeases(database.db).read(name).catch(() => undefined);
  if (!lease?.live || lease.holder !== holder) {
    const now = lease ? `is held by ${lease.holder}` : 'is not held';
    throw new SafetyRefusal(`--lock ${name}: the release lock ${now}, not by ${holder}; take it first with \`snippets lock acquire --name ${name}\``, 'release-lock');
  }
  let lost = false;
  const renewOn = async (db: Database['db']) => {
    if (lost || (await releaseLeases(db).renew(name, holder))) return;
    lost = true;
    onLog(repo, 'warn', `lost the release lock '${name}': its lease expired or was taken`);
  };
  const beating = target.driver === 'postgres' ? await openDatabase(target) : undefined;
  const timer = beating ? setInterval(() => void renewOn(beating.db).catch(() => {}), Math.max(1_000, lease.ttlMs / 3)) : undefined;
  return {
    async check(snippetId) {
      // On its own connection where there is one: the run's may have the next snippet's transaction open (pipelined).
      const db = beating?.db ?? database.db;
      await renewOn(db);
      if (!lost) return;
      await snippetStore(db, repo).appendEvents([{ repo, snippetId, kind: 'lock-lost', reason: `release lock '${name}' lost before ${snippetId}` }]).catch(() => {});
      throw new SafetyRefusal(`the release lock '${name}' was lost (its lease expired or was taken); stopped before ${snippetId}`, 'release-lock');
    },
    async stop() {
      clearInterval(timer);
      await beating?.close();
    },
  };
}
