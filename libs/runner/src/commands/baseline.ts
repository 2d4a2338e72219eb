import { sql } from 'drizzle-orm';
import { SafetyRefusal } from '../errors.ts';
import { snippetStore } from '../store/snippet-store.ts';
import { withRepoLock } from '../database/lock.ts';
import { plan } from '../planning/plan.ts';
import { findFile, openRepo, requireManifest, withDatabase, type SessionInput } from '../repo.ts';

export interface BaselineReport {
  repo: string;
  baselined: string[];
}

/**
 * Marks every snippet up to `through` as applied without running it: how an existing
 * database whose data already has those fixes adopts a repo with history.
 */
export async function baseline(input: SessionInput, through: string): Promise<BaselineReport> {
  const session = await openRepo(input);
  const manifest = await requireManifest(session.config);
  const last = findFile(session.files, through, '--through');
  const { config, files, audit } = session;

  return withDatabase(session.target, ({ db }) =>
    withRepoLock(db, config.repo, config.timeouts.runLockWaitMs, async () => {
      const store = snippetStore(db, config.repo);
      const ledger = await store.ledger();
      // The same tree checks as a run, without importing modules: baseline runs no code.
      const refusals = plan({ files, snippets: [], ledger, manifest }).refusals.filter(
        (r) => r.check === 'manifest-mismatch' || r.check === 'changed-applied' || r.check === 'missing-applied',
      );
      if (refusals.length) throw new SafetyRefusal(refusals[0]!.message, refusals[0]!.check, { subject: refusals[0]!.subject });

      const recorded = new Set(ledger.map((r) => r.id));
      const marked = files.filter((f) => f.number <= last.number && !recorded.has(f.id));
      if (marked.length === 0) return { repo: config.repo, baselined: [] };

      await store.upgrade();
      const now = sql`clock_timestamp()`;
      const reason = `baseline --through ${through}`;
      await store.recordMany(
        marked.map((f) => ({
          repo: config.repo,
          id: f.id,
          number: f.number,
          checksum: f.checksum,
          status: 'baselined' as const,
          ...audit,
          startedAt: now,
          finishedAt: now,
          durationMs: 0,
        })),
        marked.map((f) => ({ repo: config.repo, snippetId: f.id, kind: 'baselined' as const, checksum: f.checksum, ...audit, reason })),
      );
      return { repo: config.repo, baselined: marked.map((f) => f.id) };
    }),
  );
}
