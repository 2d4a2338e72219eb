import { readLedger } from '../ledger.ts';
import { computeStatus, type StatusEntry } from '../plan.ts';
import { openRepo, withDatabase, type SessionInput } from '../repo.ts';

export interface StatusReport {
  repo: string;
  database: string;
  snippets: StatusEntry[];
}

/** Reads files and the ledger only: no snippet module is imported, nothing is written. */
export async function status(input: SessionInput): Promise<StatusReport> {
  const session = await openRepo(input);
  return withDatabase(session.target, async ({ db, display }) => ({
    repo: session.config.repo,
    database: display,
    snippets: computeStatus(session.files, await readLedger(db, session.config.repo)),
  }));
}
