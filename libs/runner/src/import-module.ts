import { pathToFileURL } from 'node:url';

/**
 * Imports one of the repo's TypeScript modules (a snippet, the config) whoever the caller
 * is: the CLI has tsx registered and a test runner transforms TypeScript itself, but a
 * plain Node process using the published runner as a library has neither, so that import
 * goes through tsx's loader.
 */
export async function importModule(file: string): Promise<{ default?: unknown }> {
  const url = pathToFileURL(file).href;
  try {
    return (await import(url)) as { default?: unknown };
  } catch (error) {
    if ((error as { code?: string }).code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw error;
    // Loaded only here: tsx costs a CLI that imports compiled JavaScript tens of milliseconds.
    const { tsImport } = await import('tsx/esm/api');
    return (await tsImport(url, import.meta.url)) as { default?: unknown };
  }
}
