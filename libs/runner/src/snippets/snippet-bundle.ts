import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { BuildOptions, Plugin } from 'esbuild';
import { sha256 } from '../checksum.ts';
import type { SnippetFile } from './discovery.ts';

/**
 * A repo's TypeScript (its snippets, its config) compiled with esbuild into plain ES
 * modules that Node imports itself. Importing a thousand snippet files one by one through
 * tsx's loader costs over a second, and a loader on every import slows the rest of the
 * CLI; one compiled bundle imports in milliseconds.
 *
 * Compiling is only how the reviewed sources are loaded: the checksums the ledger records
 * are taken from the files themselves (discovery). A compiled module is cached in the
 * repo's node_modules/.cache/snippets (bare imports resolve from there, as from the repo)
 * under a key made of the sources' checksums, with the checksums of the files they import
 * beside it, so an edited snippet or helper is never run from a stale build. `snippets
 * compile` warms the cache ahead, e.g. at image build.
 *
 * Every function returns undefined when it cannot compile or import (a syntax error, a
 * read-only node_modules, a module that throws): the caller then imports the source
 * through tsx, which names the file at fault.
 */

const KEPT_BUILDS = 8;
const ENTRY = 'snippets-bundle.js'; // the generated entry of the snippets' bundle, not a file
const FORMAT = 3; // bump when what is compiled changes shape, so old caches are not read
const RUNNER = '@snippets/runner';
const RUNNER_NAMESPACE = 'snippets-runner';
/** The module of the bundle the snippets import the runner through, as its metafile names it: not a file. */
const RUNNER_REEXPORT = `${RUNNER_NAMESPACE}:${RUNNER}`;

type Module = { default?: unknown };

/** Evaluates one snippet of the bundle, on first call; the bundle's other snippets stay unevaluated. */
export type SnippetImport = () => Promise<Module>;

/** sha256 of each file a build compiled in besides the ones its key covers. */
type Inputs = Record<string, string>;

/**
 * The snippets' modules by id, from one bundle; a snippet that reads its own `import.meta`
 * is left out. Each snippet (with the helpers it imports) is evaluated when its import is
 * called, so a run loads only the snippets it may apply.
 */
export async function importSnippetBundle(repoRoot: string, files: SnippetFile[]): Promise<Map<string, SnippetImport> | undefined> {
  const bundle = await compileSnippets(repoRoot, files);
  const imported = bundle ? await importCompiled<{ snippets: Record<string, SnippetImport> }>(bundle) : undefined;
  return imported ? new Map(Object.entries(imported.snippets)) : undefined;
}

/** The config module, compiled with its own `import.meta` (configs resolve packages from it). */
export async function importCompiledConfig(repoRoot: string, configFile: string): Promise<Module | undefined> {
  const source = await readFile(configFile).catch(() => undefined);
  if (!source) return undefined;
  const url = pathToFileURL(configFile).href;
  const compiled = await compile(repoRoot, 'config', [sha256(source)], async () => ({
    keyed: new Set([path.relative(repoRoot, configFile)]),
    options: {
      entryPoints: [configFile],
      define: { 'import.meta.url': JSON.stringify(url), 'import.meta.filename': JSON.stringify(configFile), 'import.meta.dirname': JSON.stringify(path.dirname(configFile)) },
    },
  }));
  return compiled ? importCompiled<Module>(compiled) : undefined;
}

/**
 * Compiles the snippets' bundle unless one of exactly these sources is cached; its path.
 * The key is the checksums discovery took, so a cached bundle is found without reading
 * the sources again.
 */
export async function compileSnippets(repoRoot: string, files: SnippetFile[]): Promise<string | undefined> {
  // What the runner exports shapes the build (see oneRunnerImport): another version's makes another.
  const runner = await resolveRunner(repoRoot);
  if (!runner) return undefined;
  const key = [...files.map((f) => `${f.displayPath}:${f.checksum}`), `${RUNNER}:${runner.checksum}`];
  return compile(repoRoot, 'bundle', key, async () => {
    const sources = await Promise.all(files.map((f) => readFile(f.file, 'utf8').catch(() => '')));
    // One import.meta serves a whole bundle: a snippet that reads its own is imported alone.
    const bundled = files.filter((f, i) => sha256(sources[i]!) === f.checksum && !sources[i]!.includes('import.meta'));
    // A dynamic import inside a bundle is compiled into a function that evaluates the module
    // on its first call: one file to load, and only the snippets asked for run their top level.
    const entry = `export const snippets = {\n${bundled.map((f) => `  ${JSON.stringify(f.id)}: () => import(${JSON.stringify(`./${f.displayPath}`)}),`).join('\n')}\n};`;
    return {
      keyed: new Set([ENTRY, RUNNER_REEXPORT, ...bundled.map((f) => f.displayPath)]),
      options: {
        stdin: { contents: entry, resolveDir: repoRoot, sourcefile: ENTRY, loader: 'js' },
        plugins: [oneRunnerImport(Object.keys(await import(pathToFileURL(runner.entry).href)), repoRoot)],
      },
    };
  });
}

/**
 * The runner the repo resolves, which the snippets import: its entry file, and that file's
 * checksum for the cache key, so another version's exports make another build. Its export
 * names are read by importing it, and only for a build: a run that finds its bundle cached
 * imports no second runner. Undefined when the repo resolves none; the snippets then load
 * one by one, whose error says so.
 */
async function resolveRunner(repoRoot: string): Promise<{ entry: string; checksum: string } | undefined> {
  try {
    const entry = createRequire(path.join(repoRoot, 'package.json')).resolve(RUNNER);
    return { entry, checksum: sha256(await readFile(entry)) };
  } catch {
    return undefined;
  }
}

/**
 * Every snippet imports this package, and esbuild keeps an import statement per file for a
 * package left external (esbuild#475, open): 5,000 snippets made 5,000 import bindings of
 * defineSnippet, and evaluating them grew with the square of their number in V8 (196 ms
 * for 5,000, 19 for 1,000; through one import, 79 and 15). The snippets import it through
 * one module of the bundle instead, which re-exports `names`, the runner's exports, from
 * the runner the repo at `repoRoot` resolves. A name the runner lacks fails the build, and
 * the snippets then load one by one, whose error names the file.
 */
function oneRunnerImport(names: string[], repoRoot: string): Plugin {
  return {
    name: 'one-runner-import',
    setup(build) {
      // Resolved as esbuild would (external) when the re-exporting module itself imports it.
      build.onResolve({ filter: new RegExp(`^${RUNNER}$`) }, (args) => (args.namespace === RUNNER_NAMESPACE ? undefined : { path: RUNNER, namespace: RUNNER_NAMESPACE }));
      build.onLoad({ filter: /.*/, namespace: RUNNER_NAMESPACE }, () => ({
        contents: `export { ${names.join(', ')} } from '${RUNNER}';`,
        resolveDir: repoRoot,
      }));
    },
  };
}

async function importCompiled<T>(file: string): Promise<T | undefined> {
  try {
    return (await import(pathToFileURL(file).href)) as T;
  } catch {
    return undefined;
  }
}

async function inputsUnchanged(repoRoot: string, inputs: Inputs): Promise<boolean> {
  for (const [file, checksum] of Object.entries(inputs)) {
    const content = await readFile(path.join(repoRoot, file)).catch(() => undefined);
    if (!content || sha256(content) !== checksum) return false;
  }
  return true;
}

/** What to build on a cache miss; `keyed` are the inputs the key covers, the others are checked by hash. */
type BuildPlan = () => Promise<{ keyed: Set<string>; options: BuildOptions }>;

/** The cached build for `key` (what identifies its entry sources), else a new one. */
async function compile(repoRoot: string, kind: string, key: string[], plan: BuildPlan): Promise<string | undefined> {
  const dir = path.join(repoRoot, 'node_modules', '.cache', 'snippets');
  const name = `${kind}-${sha256(JSON.stringify([FORMAT, process.versions.node, repoRoot, key])).slice(0, 16)}`;
  const file = path.join(dir, `${name}.mjs`);
  const manifest = path.join(dir, `${name}.json`);
  const cached = await readFile(manifest, 'utf8').then((text) => JSON.parse(text) as Inputs, () => undefined);
  if (cached && (await inputsUnchanged(repoRoot, cached))) return file;

  try {
    const { keyed, options } = await plan();
    const { build } = await import('esbuild'); // only on a cache miss: it starts a compiler process
    const result = await build({
      ...options,
      absWorkingDir: repoRoot,
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: `node${process.versions.node.split('.')[0]}`,
      packages: 'external',
      metafile: true,
      write: false,
      logLevel: 'silent',
    });
    const others = Object.keys(result.metafile.inputs).filter((input) => !keyed.has(input));
    const inputs: Inputs = Object.fromEntries(await Promise.all(others.map(async (input) => [input, sha256(await readFile(path.join(repoRoot, input)))])));
    await mkdir(dir, { recursive: true });
    // Under temporary names, renamed, the module first: another runner may be reading the cache.
    for (const [target, content] of [[file, result.outputFiles[0]!.contents], [manifest, JSON.stringify(inputs)]] as const) {
      const partial = `${target}.${process.pid}.tmp`;
      await writeFile(partial, content);
      await rename(partial, target);
    }
    await pruneBuilds(dir, kind);
    return file;
  } catch {
    return undefined;
  }
}

/** Keeps the newest builds of a kind: each change to the snippets makes a new one. */
async function pruneBuilds(dir: string, kind: string): Promise<void> {
  const names = (await readdir(dir).catch(() => [])).filter((name) => name.startsWith(`${kind}-`) && name.endsWith('.mjs'));
  const dated = await Promise.all(names.map(async (name) => ({ name, mtime: (await stat(path.join(dir, name)).catch(() => undefined))?.mtimeMs ?? 0 })));
  for (const { name } of dated.sort((a, b) => b.mtime - a.mtime).slice(KEPT_BUILDS)) {
    for (const file of [name, name.replace(/\.mjs$/, '.json')]) await rm(path.join(dir, file), { force: true });
  }
}
