import { readCheckpoints } from '../batching.ts';
import { ledgerExists, readLedger } from '../ledger.ts';
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
  return withDatabase(session.target, async ({ db, display }) => {
    const exists = await ledgerExists(db);
    const ledger = exists ? await readLedger(db, session.config.repo) : [];
    const checkpoints = exists ? await readCheckpoints(db, session.config.repo) : new Map();
    return { repo: session.config.repo, database: display, snippets: computeStatus(session.files, ledger, squashes, checkpoints) };
  });
}
