import { readEvents, type EventRow } from '../ledger.ts';
import { openRepo, withDatabase, type SessionInput } from '../repo.ts';

/** The audit trail of the repo: every attempt, result, refusal, baseline and revert. */
export async function history(input: SessionInput, snippetId?: string): Promise<{ repo: string; events: EventRow[] }> {
  const session = await openRepo(input);
  return withDatabase(session.target, async ({ db }) => ({
    repo: session.config.repo,
    events: await readEvents(db, session.config.repo, snippetId),
  }));
}
