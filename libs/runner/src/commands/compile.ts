import path from 'node:path';
import { loadConfig } from '../config.ts';
import { discoverSnippetFiles } from '../snippets/discovery.ts';
import { loadSnippets } from '../snippets/load-snippets.ts';
import { compileSnippets } from '../snippets/snippet-bundle.ts';

export interface CompileReport {
  snippets: number;
  /** The compiled bundle, or null when it could not be made (the snippets then load one by one). */
  bundle: string | null;
}

/**
 * `snippets compile`: compiles the config and the snippets into the cache a run loads them
 * from (node_modules/.cache/snippets), so a container started from an image built with it
 * compiles nothing. It loads and validates every snippet as a run does, so a snippet that
 * does not load is an error naming it here, at build time.
 */
export async function compile(cwd: string): Promise<CompileReport> {
  const config = await loadConfig(path.resolve(cwd));
  const files = await discoverSnippetFiles(config.repoRoot, config.snippetsDir);
  await loadSnippets(files, config.repoRoot);
  return { snippets: files.length, bundle: (await compileSnippets(config.repoRoot, files)) ?? null };
}
