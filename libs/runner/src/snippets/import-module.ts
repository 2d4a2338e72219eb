import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
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
    // A plain Node process has no TypeScript loader (ERR_UNKNOWN_FILE_EXTENSION); code compiled
    // to CommonJS, as Nx runs a generator, turned import() into a require() of the URL
    // (MODULE_NOT_FOUND). A module that is really missing fails the same way under tsx.
    const code = (error as { code?: string }).code;
    if (code !== 'ERR_UNKNOWN_FILE_EXTENSION' && code !== 'MODULE_NOT_FOUND') throw error;
    // Loaded only here: tsx costs a CLI that imports compiled JavaScript tens of milliseconds.
    const { tsImport } = (await nativeImport(tsxApiUrl())) as typeof import('tsx/esm/api');
    return (await tsImport(url, import.meta.url)) as { default?: unknown };
  }
}

/**
 * import() as Node runs it, also where this file was compiled to CommonJS (an Nx
 * generator): a compiler rewrites the import() it sees into require(), not one in a
 * function made from text.
 */
const nativeImport = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<unknown>;

/**
 * tsx's ESM API as this package resolves it (a bare name in a function made from text would
 * resolve from elsewhere): its package.json's `exports`, read for the `import` condition,
 * since require.resolve would give the CommonJS build.
 */
function tsxApiUrl(): string {
  const manifestPath = createRequire(import.meta.url).resolve('tsx/package.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
  return pathToFileURL(path.join(path.dirname(manifestPath), manifest.exports['./esm/api']!.import.default)).href;
}
