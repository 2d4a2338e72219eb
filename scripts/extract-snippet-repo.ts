/**
 * `npm run extract -- NAME DEST [--registry URL]`: copies snippet-repos/NAME out of the
 * workspace into DEST as its own git repository. Its dependencies on workspace packages
 * (the runner, the gates, the service) become the versions published from here; with
 * --registry, each is checked to be on that registry and DEST's .npmrc points npm at it.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';

const exec = promisify(execFile);
const LEFT_BEHIND = new Set(['node_modules', 'reports', '.tmp', 'dist']);

interface PackageJson {
  name?: string;
  version?: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

class ExtractError extends Error {}

/** name -> version of every package of this workspace. */
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

export async function extractSnippetRepo(options: { workspace: string; name: string; dest: string; registry?: string }): Promise<string[]> {
  const source = path.join(options.workspace, 'snippet-repos', options.name);
  await readFile(path.join(source, 'snippets.config.ts')).catch(() => {
    throw new ExtractError(`snippet-repos/${options.name} is not a snippet repo (no snippets.config.ts); pass the name of one in snippet-repos/`);
  });
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
      if (options.registry) {
        // From a neutral directory, so no project .npmrc decides where npm looks.
        await exec('npm', ['view', `${name}@^${version}`, 'version', '--registry', options.registry], { cwd: os.tmpdir() }).catch(() => {
          throw new ExtractError(`${name}@^${version} is not on ${options.registry}; publish it first (nx release publish)`);
        });
      }
    }
  }

  await mkdir(dest, { recursive: true });
  await cp(source, dest, { recursive: true, filter: (file) => !(LEFT_BEHIND.has(path.basename(file)) && path.dirname(file) === source) });
  await writeFile(path.join(dest, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  if (options.registry) await writeFile(path.join(dest, '.npmrc'), `registry=${options.registry}\n`);

  const git = (...args: string[]) => exec('git', ['-c', 'user.name=snippets', '-c', 'user.email=snippets@localhost', ...args], { cwd: dest });
  const { stdout: sha } = await exec('git', ['rev-parse', '--short', 'HEAD'], { cwd: options.workspace }).catch(() => ({ stdout: 'unknown' }));
  await git('init', '-q', '-b', 'main');
  await git('add', '-A');
  await git('commit', '-q', '-m', `Extract ${options.name} from the snippets workspace at ${sha.trim()}`);
  return pinned;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { registry: { type: 'string' } } });
  const [name, dest] = positionals;
  if (!name || !dest) {
    console.error('usage: npm run extract -- NAME DEST [--registry URL]');
    process.exit(2);
  }
  try {
    const pinned = await extractSnippetRepo({ workspace: process.cwd(), name, dest, registry: values.registry });
    console.log(`extracted snippet-repos/${name} to ${path.resolve(dest)} (its own git repository)`);
    console.log(`dependencies: ${pinned.join(', ')}`);
    console.log(`next: cd ${dest} && npm install && npm test`);
  } catch (error) {
    if (!(error instanceof ExtractError)) throw error;
    console.error(`extract: ${error.message}`);
    process.exit(2);
  }
}
