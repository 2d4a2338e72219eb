import type { ParsedConfig } from '../config.ts';
import type { Database } from '../database/database.ts';
import { discoverSnippetFiles } from '../snippets/discovery.ts';
import { snippetStore } from '../store/snippet-store.ts';

/**
 * The snippet ids a rehearsal tells the run to expect, as production's pipeline would list
 * them: every snippet in the tree but the reverted ones, which stay in the tree but never
 * run again.
 */
export async function expectedSnippetIds(database: Database, repoDir: string, config: Pick<ParsedConfig, 'repo' | 'snippetsDir'>): Promise<string[]> {
  const reverted = new Set((await snippetStore(database.db, config.repo).ledger()).filter((r) => r.status === 'reverted').map((r) => r.id));
  return (await discoverSnippetFiles(repoDir, config.snippetsDir)).map((f) => f.id).filter((id) => !reverted.has(id));
}
