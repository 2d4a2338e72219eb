import { lstat, mkdir, readdir, readFile, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { sha256 } from '../checksum.ts';
import { InputError, SafetyRefusal } from '../errors.ts';

/** What `snippets link-service` found and did. */
export interface LinkServiceReport {
  package: string;
  version: string;
  /** The image's directory node_modules/<package> now links to. */
  serviceDir: string;
  /** How the image's code was proven to be what the snippets were tested with. */
  compared: 'content' | 'version';
  /** Why the content could not be compared, when it was not. */
  notCompared?: string;
  /** Files compared, when the content was. */
  files?: number;
}

interface Manifest {
  name?: string;
  version?: string;
  dependencies?: Record<string, string>;
}

interface LockEntry {
  version?: string;
  resolved?: string;
  link?: boolean;
}

async function readJson<T>(file: string, what: string, fix: string): Promise<T> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const message = `${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : 'unreadable'} (${what}); ${fix}`;
    throw new InputError(message, { subject: file, cause: error });
  }
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new InputError(`${file}: is not JSON (${what}); ${fix}`, { subject: file, cause: error });
  }
}

/**
 * The version package-lock.json installs for the service: the one the snippets' tests ran
 * against. A file: or link: dependency is a link entry pointing at its folder's entry.
 */
export function lockedVersion(lock: { packages?: Record<string, LockEntry> }, name: string): { version?: string; source: 'registry' | 'link' | 'git' | 'other' } {
  const entry = lock.packages?.[`node_modules/${name}`];
  if (!entry) return { source: 'other' };
  if (entry.link) return { version: entry.resolved ? lock.packages?.[entry.resolved]?.version : undefined, source: 'link' };
  const resolved = entry.resolved ?? '';
  const source = /^(git\+|git:|github:)/.test(resolved) ? 'git' : /^https?:/.test(resolved) ? 'registry' : 'other';
  return { version: entry.version, source };
}

/** Every file of a package folder, relative and sorted, without its own node_modules. */
async function packageFiles(dir: string, prefix = ''): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(path.join(dir, prefix), { withFileTypes: true })) {
    const relative = path.posix.join(prefix, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules') files.push(...(await packageFiles(dir, relative)));
    } else if (entry.isFile()) files.push(relative);
  }
  return files.sort();
}

async function digestOf(file: string): Promise<string | undefined> {
  try {
    return sha256(await readFile(file));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * The first file of the tested copy that the image lacks or has with other bytes. Files
 * only the image has (sources, tests, its Dockerfile) are not part of the package the
 * snippets were tested with, so they are not compared.
 */
export async function firstDifference(testedDir: string, imageDir: string): Promise<{ file: string; problem: 'missing' | 'differs' } | { files: number }> {
  const files = await packageFiles(testedDir);
  for (const file of files) {
    const image = await digestOf(path.join(imageDir, file));
    if (image === undefined) return { file, problem: 'missing' };
    if (image !== (await digestOf(path.join(testedDir, file)))) return { file, problem: 'differs' };
  }
  return { files: files.length };
}

/**
 * Makes `node_modules/<service>` of the repo the image's service code. Checks that the
 * image's folder is the package the repo depends on, at the version package-lock.json
 * installs, and, where npm installed that copy (a registry dependency), with the same
 * files; then replaces the copy with a link to the image's folder, so Node loads the
 * image's code and resolves the service's own dependencies from the image's node_modules.
 */
export async function linkService(repoRoot: string, name: string, serviceDir: string): Promise<LinkServiceReport> {
  const manifest = await readJson<Manifest>(path.join(repoRoot, 'package.json'), "the snippet repo's", 'run link-service in the snippet repo (-C DIR)');
  if (!manifest.dependencies?.[name]) {
    throw new InputError(`package.json: has no dependency on ${name}; pass --package the service package the snippets import, as package.json's dependencies name it`, { subject: 'package.json' });
  }
  const dir = path.resolve(serviceDir);
  const image = await readJson<Manifest>(path.join(dir, 'package.json'), "the service image's package", `set --service-dir (SERVICE_DIR) to where the service image keeps ${name}`);
  if (image.name !== name) {
    throw new InputError(`--service-dir ${dir}: its package.json is ${image.name ?? 'unnamed'}, not ${name}; set SERVICE_DIR to where the service image keeps ${name}`, { subject: '--service-dir' });
  }
  const lock = await readJson<{ packages?: Record<string, LockEntry> }>(path.join(repoRoot, 'package-lock.json'), 'npm ci installs from it', 'commit the package-lock.json npm install wrote');
  const locked = lockedVersion(lock, name);
  if (!locked.version) {
    throw new InputError(`package-lock.json: has no version of ${name}; run npm install and commit package-lock.json`, { subject: 'package-lock.json' });
  }
  if (image.version !== locked.version) {
    throw new SafetyRefusal(
      `${name}: the image's ${dir} is version ${image.version ?? 'unversioned'}, package-lock.json installs ${locked.version}, the version the snippets were tested with; build FROM the service image of ${locked.version} (SERVICE_VERSION), or update the dependency to ${image.version} and test again`,
      'service-image',
      { subject: '--service-dir' },
    );
  }
  const installed = path.join(repoRoot, 'node_modules', name);
  const report: LinkServiceReport = { package: name, version: locked.version, serviceDir: dir, compared: 'version' };
  const copy = await lstat(installed).catch(() => undefined);
  if (copy?.isDirectory()) {
    const difference = await firstDifference(installed, dir);
    if ('file' in difference) {
      const what = difference.problem === 'missing' ? 'is missing from' : 'differs in';
      throw new SafetyRefusal(
        `${name} ${locked.version}: ${difference.file} ${what} the image's ${dir} (npm installed it from package-lock.json, as the tests did); build the service image and the package ${locked.version} from the same commit, or depend on the version the image carries`,
        'service-image',
        { subject: difference.file },
      );
    }
    Object.assign(report, { compared: 'content', files: difference.files });
  } else {
    // A file:, link: or git dependency is not installed in the image (the Dockerfile leaves
    // it out of npm ci, which could not fetch it): only its version can be compared.
    report.notCompared = `package-lock.json installs ${name} from ${locked.source === 'registry' ? 'the registry' : `a ${locked.source} dependency`}, not installed here`;
  }
  await rm(installed, { recursive: true, force: true });
  await mkdir(path.dirname(installed), { recursive: true });
  await symlink(dir, installed, 'dir');
  return report;
}
