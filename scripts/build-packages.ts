/**
 * `npm run build:packages`: builds the published packages into dist/<project root>,
 * the folders `nx release publish` publishes: tsc's JavaScript and declarations, the assets
 * they read at run time, and a package.json for the registry (exports and bin pointing at
 * built files, `files`, `engines`; no scripts, no dev dependencies, no workspace paths).
 */
import { execFileSync } from 'node:child_process';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';

interface PackageJson {
  name: string;
  version: string;
  type?: string;
  exports?: Record<string, string>;
  main?: string;
  bin?: Record<string, string>;
  scripts?: Record<string, string>;
  devDependencies?: Record<string, string>;
  [field: string]: unknown;
}

interface PackageBuild {
  root: string;
  /** Files and folders copied as they are, relative to the project root. */
  assets: string[];
  /** Dependencies compiled into the CLI's bundle (see bundleCli); the others it imports from node_modules. */
  bundled?: string[];
}

export const PACKAGES: PackageBuild[] = [
  // What every command loads: one module instead of some 200 files to resolve and compile.
  // Left out: native and WebAssembly packages (esbuild, PGlite), the TypeScript loader, and
  // what a single command reads (reports, templates, progress bars, the lock file).
  { root: 'libs/runner', assets: ['templates', 'README.md'], bundled: ['drizzle-orm', 'postgres', 'commander', 'picocolors', 'ms', 'valibot', 'tinyqueue'] },
  { root: 'libs/gates', assets: ['README.md'] },
  { root: 'libs/service-handle', assets: ['README.md'] },
  // Not released (a demo), but built so a snippet repo outside the workspace can depend on it.
  { root: 'libs/example-service', assets: ['drizzle'] },
  { root: 'tools/nx-plugin', assets: ['generators.json', 'README.md', 'bin/load-cli.js', 'src/generators/snippet-repo/files', 'src/generators/snippet-repo/files-ci-github', 'src/generators/snippet-repo/files-ci-jenkins', 'src/generators/snippet-repo/schema.json', 'src/generators/snippet/schema.json', 'src/generators/squash/schema.json', 'src/generators/update-repo/schema.json'] },
];

const ENGINES = { node: '>=20.19' }; // require() of ES modules, which the Nx plugin relies on

/** `./src/x.ts` becomes `./dist/x.js` (ES modules) or `./src/x.js` (the CommonJS plugin, built in place). */
function built(file: string, esm: boolean): string {
  return esm ? file.replace(/^\.\/src\//, './dist/').replace(/\.ts$/, '.js') : file.replace(/\.ts$/, '.js');
}

/** `folders`: the asset folders the package reads at run time, shipped beside dist/. */
function publishedManifest(source: PackageJson, esm: boolean, folders: string[]): PackageJson {
  const { scripts: _scripts, devDependencies: _dev, ...manifest } = source;
  const exports = Object.fromEntries(
    Object.entries(source.exports ?? {}).map(([subpath, file]) =>
      file.endsWith('.ts') ? [subpath, { types: built(file, esm).replace(/\.js$/, '.d.ts'), default: built(file, esm) }] : [subpath, file],
    ),
  );
  return {
    ...manifest,
    ...(source.exports ? { exports } : {}),
    ...(source.main ? { main: built(source.main, esm), types: built(source.main, esm).replace(/\.js$/, '.d.ts') } : {}),
    files: [...(esm ? ['dist'] : ['src', 'generators.json']), ...(source.bin ? ['bin'] : []), ...(esm ? folders : [])],
    engines: ENGINES,
    publishConfig: { access: 'public' },
  };
}

/** The folder of the CLI's bundle, beside dist/: the code reads its assets from `../`, as from dist/. */
const CLI_BUNDLE = 'cli';

/**
 * Bundles the built CLI with the dependencies it always loads: start-up is mostly Node
 * resolving, reading and compiling modules, a third of it for a run with nothing to apply.
 * The commands stay lazy (split into chunks). The library entry points stay tsc's files:
 * a snippet's `defineSnippet` is matched by a global symbol, not by module identity.
 */
async function bundleCli(out: string, cli: string, source: PackageJson, bundled: string[]): Promise<void> {
  const external = Object.keys((source['dependencies'] as Record<string, string> | undefined) ?? {}).filter((name) => !bundled.includes(name));
  await build({
    entryPoints: [path.join(out, 'dist', `${cli}.js`)],
    outdir: path.join(out, CLI_BUNDLE),
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external,
    logLevel: 'warning',
    // The CommonJS packages inlined (commander, picocolors) require Node's built-ins.
    banner: { js: "import { createRequire as __snippetsCreateRequire } from 'node:module'; const require = __snippetsCreateRequire(import.meta.url);" },
  });
}

/** The published bins: the built CLI, loaded by Node itself. */
async function buildBin(root: string, out: string, source: PackageJson, bundled: string[] | undefined): Promise<void> {
  const esm = source.type === 'module';
  for (const file of Object.values(source.bin ?? {})) {
    const bin = await readFile(path.join(root, file), 'utf8');
    if (!esm) {
      // The CommonJS plugin's bins find its built JavaScript themselves (bin/load-cli.js).
      await cp(path.join(root, file), path.join(out, file));
      continue;
    }
    // Built, the CLI is JavaScript that Node loads itself, with no loader hooks on every
    // import: the repo's TypeScript (config, snippets) is compiled with esbuild, or imported
    // through tsx where it cannot be (see snippet-bundle.ts and import-module.ts).
    const cli = /import\('\.\.\/src\/([\w/-]+)\.ts'\)/.exec(bin)?.[1];
    if (!cli) throw new Error(`${file}: expected an import of ../src/*.ts to rewrite`);
    if (bundled) await bundleCli(out, cli, source, bundled);
    const rewritten = [
      '#!/usr/bin/env node',
      '// The built CLI; it compiles the repo\'s TypeScript itself (config and snippets).',
      `const { main } = await import('../${bundled ? CLI_BUNDLE : 'dist'}/${cli}.js');`,
      'process.exitCode = await main(process.argv);',
      '',
    ].join('\n');
    await mkdir(path.dirname(path.join(out, file)), { recursive: true });
    await writeFile(path.join(out, file), rewritten, { mode: 0o755 });
  }
}

export async function buildPackage({ root, assets, bundled }: PackageBuild): Promise<string> {
  const out = path.join('dist', root);
  await rm(out, { recursive: true, force: true });
  execFileSync(process.execPath, [path.resolve('node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
  const source = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as PackageJson;
  const esm = source.type === 'module';
  for (const asset of assets) await cp(path.join(root, asset), path.join(out, asset), { recursive: true, errorOnExist: false });
  if (source.bin) await buildBin(root, out, source, bundled);
  const folders = [...assets.filter((asset) => !asset.includes('.')), ...(bundled ? [CLI_BUNDLE] : [])];
  await writeFile(path.join(out, 'package.json'), `${JSON.stringify(publishedManifest(source, esm, folders), null, 2)}\n`);
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // In order: the plugin's build reads the runner's built declarations.
  for (const pkg of PACKAGES) console.log(`built ${await buildPackage(pkg)}`);
}
