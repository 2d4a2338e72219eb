import type { SnippetDb } from '../database/snippet-db.ts';
import { SnippetFailed } from '../errors.ts';
import { helpBatched, type ExecuteOptions, type HelpResult } from '../execution/executor.ts';
import type { RepoSession } from '../repo.ts';
import { loadSnippets, type LoadedSnippet } from '../snippets/load-snippets.ts';
import { snippetStore } from '../store/snippet-store.ts';

/** Loads a snippet of the repo by id, once; undefined when the repo has none by that id. */
export function snippetLoader(session: RepoSession): (id: string) => Promise<LoadedSnippet | undefined> {
  const loaded = new Map<string, Promise<LoadedSnippet | undefined>>();
  return (id) => {
    if (!loaded.has(id)) loaded.set(id, loadSnippets(session.files, session.config.repoRoot, (file) => file.id === id).then(([snippet]) => snippet));
    return loaded.get(id)!;
  };
}

/**
 * What a runner does while another one holds the repo lock: if that one is in the middle
 * of a batched snippet this process has the same file of, work its ranges too. The
 * returned function says whether rows got done; `helped` gathers what this process did. A
 * snippet whose batch failed here is left to the lock holder, which records the failure.
 */
export function helpWhileWaiting(
  db: SnippetDb,
  load: (id: string) => Promise<LoadedSnippet | undefined>,
  options: ExecuteOptions,
  helped: HelpResult[],
  onHelp?: (snippet: LoadedSnippet) => void,
): () => Promise<boolean> {
  const announced = new Set<string>();
  const failed = new Set<string>();
  return async () => {
    const inProgress = await snippetStore(db, options.repo).walksUnderWay();
    for (const { id, checksum } of inProgress) {
      if (failed.has(id)) continue;
      const snippet = await load(id);
      // A snippet with inputs is left to its runner: this process has not fetched and checked them.
      const hasInputs = Object.keys(snippet?.definition.inputs ?? {}).length > 0;
      if (!snippet || snippet.checksum !== checksum || snippet.definition.transaction !== 'batched' || hasInputs) continue;
      if (!announced.has(id)) onHelp?.(snippet);
      announced.add(id);
      let done: HelpResult;
      try {
        done = await helpBatched(db, snippet, options);
      } catch (error) {
        if (!(error instanceof SnippetFailed)) throw error;
        failed.add(id);
        options.onLog(id, 'warn', `stopped helping: ${error.message}`);
        continue;
      }
      if (!done.rows) continue;
      const earlier = helped.find((h) => h.id === id);
      if (earlier) Object.assign(earlier, { rows: earlier.rows + done.rows, batches: earlier.batches + done.batches });
      else helped.push(done);
      return true;
    }
    return false;
  };
}
