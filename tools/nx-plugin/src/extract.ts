import { execFile } from 'node:child_process';
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { workspaceRoot } from '@nx/devkit';
import { SNIPPET_REPOS_DIR } from './snippet-repos';

const exec = promisify(execFile);
/** Installed, generated or machine-specific: never part of the extracted repository. */
const LEFT_BEHIND = new Set(['node_modules', 'reports', '.tmp', '.dumps', 'dist']);
const USAGE = 'usage: snippets-extract NAME DEST [--registry URL]';

interface PackageJson {
  name?: string;
  version?: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

/** Bad input: one line naming what to fix, exit code 2. */
export class ExtractError extends Error {
  override name = 'ExtractError';
}

export interface ExtractOptions {
  /** The Nx workspace holding snippet-repos/NAME. */
  workspace: string;
  name: string;
  dest: string;
  /** The registry the repo installs from; its published versions are checked there. */
  registry?: string;
}

/** name -> version of every package of the workspace (npm workspaces `dir/*` patterns). */
async function workspaceVersions(workspace: string): Promise<Map<string, string>> {
  const versions = new Map<string, string>();
  const root = JSON.parse(await readFile(path.join(workspace, 'package.json'), 'utf8')) as { workspaces?: string[] };
  for (const pattern of root.workspaces ?? []) {
    const parent = path.join(workspace, pattern.replace(/\/\*$/, ''));
    for (const child of await readdir(parent).catch(() => [])) {
      const manifest = await readFile(path.join(parent, child, 'package.json'), 'utf8').catch(() => undefined);
      if (!manifest) continue;
      const { name, version } = JSON.parse(manifest) as PackageJson;
      if (name && version) versions.set(name, version);
    }
  }
  return versions;
}

/**
 * Copies snippet-repos/NAME out of the workspace into DEST as its own git repository. Its
 * dependencies on packages of the workspace (the runner, the gates, a service) become the
 * versions published from it; with `registry`, each is checked to be there and DEST's
 * .npmrc points npm at it. Returns the pinned dependencies (`name@range`).
 */
export async function extractSnippetRepo(options: ExtractOptions): Promise<string[]> {
  const source = path.join(options.workspace, SNIPPET_REPOS_DIR, options.name);
  if (!/^[a-z0-9][a-z0-9-]*$/.test(options.name) || !(await readFile(path.join(source, 'snippets.config.ts')).catch(() => undefined))) {
    throw new ExtractError(`${SNIPPET_REPOS_DIR}/${options.name} is not a snippet repo (no snippets.config.ts); pass the name of one in ${SNIPPET_REPOS_DIR}/`);
  }
  const dest = path.resolve(options.dest);
  if ((await readdir(dest).catch(() => [])).length) throw new ExtractError(`${dest} is not empty; extract into a new directory`);

  const versions = await workspaceVersions(options.workspace);
  const manifest = JSON.parse(await readFile(path.join(source, 'package.json'), 'utf8')) as PackageJson;
  const pinned: string[] = [];
  for (const deps of [manifest.dependencies, manifest.devDependencies]) {
    for (const name of Object.keys(deps ?? {})) {
      const version = versions.get(name);
      if (!version) continue;
      deps![name] = `^${version}`;
      pinned.push(`${name}@^${version}`);
    }
  }
  if (options.registry) {
    for (const spec of pinned) {
      // From a neutral directory, so no project .npmrc decides where npm looks.
      await exec('npm', ['view', spec, 'version', '--registry', options.registry], { cwd: os.tmpdir() }).catch(() => {
        throw new ExtractError(`${spec} is not on ${options.registry}; publish it first (nx release publish)`);
      });
    }
  }

  // Nothing is written before every check passed.
  await mkdir(dest, { recursive: true });
  await cp(source, dest, { recursive: true, filter: (file) => !(LEFT_BEHIND.has(path.basename(file)) && path.dirname(file) === source) });
  await writeFile(path.join(dest, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  if (options.registry) await writeFile(path.join(dest, '.npmrc'), `registry=${options.registry}\n`);

  const git = (...args: string[]) => exec('git', ['-c', 'user.name=snippets', '-c', 'user.email=snippets@localhost', ...args], { cwd: dest });
  const { stdout: sha } = await exec('git', ['rev-parse', '--short', 'HEAD'], { cwd: options.workspace }).catch(() => ({ stdout: 'an uncommitted state' }));
  await git('init', '-q', '-b', 'main');
  await git('add', '-A');
  await git('commit', '-q', '-m', `Extract ${options.name} from the snippets workspace at ${sha.trim()}`);
  return pinned;
}

/** `snippets-extract NAME DEST [--registry URL]`, run in the workspace; returns the exit code. */
export async function main(argv: string[], workspace = workspaceRoot): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { registry: { type: 'string' } } });
  } catch (error) {
    console.error(`snippets-extract: ${(error as Error).message}; ${USAGE}`);
    return 2;
  }
  const [name, dest, ...extra] = parsed.positionals;
  if (!name || !dest || extra.length) {
    console.error(`snippets-extract: ${USAGE}`);
    return 2;
  }
  try {
    const pinned = await extractSnippetRepo({ workspace, name, dest, registry: parsed.values.registry });
    console.log(`extracted ${SNIPPET_REPOS_DIR}/${name} to ${path.resolve(dest)} (its own git repository)`);
    console.log(`dependencies: ${pinned.join(', ') || 'none from this workspace'}`);
    console.log(`next: cd ${dest} && npm install && npm test`);
    return 0;
  } catch (error) {
    if (!(error instanceof ExtractError)) throw error;
    console.error(`snippets-extract: ${error.message}`);
    return 2;
  }
}
