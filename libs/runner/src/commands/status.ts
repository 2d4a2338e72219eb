import { readLedger } from '../ledger.ts';
import { loadSquashes } from '../load-snippets.ts';
import { computeStatus, type StatusEntry } from '../plan.ts';
import { openRepo, withDatabase, type SessionInput } from '../repo.ts';

export interface StatusReport {
  repo: string;
  database: string;
  snippets: StatusEntry[];
}

/**
 * Reads files and the ledger; imports no snippet module, only squash files (data that
 * says which archived snippets they stand for). Writes nothing.
 */
export async function status(input: SessionInput): Promise<StatusReport> {
  const session = await openRepo(input);
  const squashes = await loadSquashes(session.files);
  return withDatabase(session.target, async ({ db, display }) => ({
    repo: session.config.repo,
    database: display,
    snippets: computeStatus(session.files, await readLedger(db, session.config.repo), squashes),
  }));
}
