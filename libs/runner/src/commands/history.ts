import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { SnippetDb } from '../database/snippet-db.ts';
import { InputError } from '../errors.ts';
import type { EventRow } from '../store/ledger-schema.ts';
import { snippetStore } from '../store/snippet-store.ts';
import { openRepo, withDatabase, type RepoSession, type SessionInput } from '../repo.ts';

/** The audit trail of the repo: every attempt, result, refusal, baseline and revert. */
export async function history(input: SessionInput, snippetId?: string): Promise<{ repo: string; events: EventRow[] }> {
  const session = await openRepo(input);
  return withDatabase(session.target, async ({ db }) => {
    const events = await snippetStore(db, session.config.repo).events(snippetId);
    // A typo must not read as "no history yet": that looks like a snippet that never ran.
    if (snippetId !== undefined && !events.length && !(await isKnownSnippet(session, db, snippetId))) {
      throw new InputError(`history ${snippetId}: no snippet ${snippetId} in this repo; run snippets status for the ids`, { subject: snippetId });
    }
    return { repo: session.config.repo, events };
  });
}

/** A snippet of the repo: in the snippets directory, archived by a squash, or on the ledger. */
async function isKnownSnippet(session: RepoSession, db: SnippetDb, id: string): Promise<boolean> {
  if (session.files.some((f) => f.id === id)) return true;
  if (archivedIds(session).includes(id)) return true;
  return (await snippetStore(db, session.config.repo).ledger()).some((row) => row.id === id);
}

/** Ids of the snippets a squash moved to `<snippetsDir>/archive/`, kept for audit and never loaded. */
function archivedIds(session: RepoSession): string[] {
  const dir = path.resolve(session.config.repoRoot, session.config.snippetsDir, 'archive');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith('.ts') && !name.endsWith('.test.ts'))
    .map((name) => name.slice(0, -'.ts'.length));
}
