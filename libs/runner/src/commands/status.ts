import { snippetStore } from '../store/snippet-store.ts';
import { loadSquashes } from '../snippets/load-snippets.ts';
import { computeStatus, type StatusEntry } from '../planning/plan.ts';
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
    const store = snippetStore(db, session.config.repo);
    const exists = await store.exists();
    const ledger = exists ? await store.ledger() : [];
    const checkpoints = exists ? await store.checkpoints() : new Map();
    return { repo: session.config.repo, database: display, snippets: computeStatus(session.files, ledger, squashes, checkpoints) };
  });
}
