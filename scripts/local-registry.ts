/**
 * A throwaway npm registry (verdaccio) on 127.0.0.1 for tests that publish and install the
 * built packages. `@snippets/*` is served only from its own storage, never proxied, so what
 * installs under that scope is exactly what was published to it; every other package is
 * proxied to the public registry, for the published packages' third-party dependencies.
 *
 * Callers point npm at it with `--userconfig <npmrc>` (or `registryEnv(registry)`), so the
 * user's own npm configuration is neither read nor written.
 *
 *   npx tsx scripts/local-registry.ts [--publish DIR...]    (or `npm run registry -- ...`)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

export interface LocalRegistry {
  /** e.g. `http://127.0.0.1:41234/` */
  url: string;
  /** An .npmrc naming only this registry and its token. */
  npmrc: string;
  /** Stops the server and removes its storage, configuration and npmrc. */
  stop(): Promise<void>;
}

export interface NpmResult {
  code: number;
  stdout: string;
  /** stdout and stderr, interleaved. */
  output: string;
}

/** A registry that could not be started or a package that could not be published. */
export class LocalRegistryError extends Error {
  override name = 'LocalRegistryError';
}

const START_TIMEOUT_MS = 30_000;
const USER = 'snippets-test';

// Runs in the child: verdaccio's own server factory, listening on a port the OS picks,
// which it reports over IPC. It exits when its parent goes away, so it never outlives a test.
const SERVER_SOURCE = `
const [verdaccio, config] = process.argv.slice(1);
process.on('disconnect', () => process.exit(0));
require(verdaccio).runServer(config).then((server) => {
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
}, (error) => {
  console.error(error);
  process.exit(1);
});
`;

/**
 * Starts verdaccio with its storage, config, htpasswd and an npmrc in a new temporary
 * directory; resolves once it answers `GET /-/ping` and a user's token is in the npmrc.
 */
export async function startLocalRegistry(): Promise<LocalRegistry> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'snippets-registry-'));
  let child: ChildProcess | undefined;
  const stop = async () => {
    if (child) await stopChild(child);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const configPath = await writeConfig(dir);
    const log: string[] = [];
    child = spawn(process.execPath, ['-e', SERVER_SOURCE, createRequire(import.meta.url).resolve('verdaccio'), configPath], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    for (const stream of [child.stdout, child.stderr]) {
      stream?.on('data', (chunk: Buffer) => log.push(chunk.toString()));
    }
    const port = await waitForPort(child, log);
    const url = `http://127.0.0.1:${port}/`;
    await waitForPing(url, log);
    const token = await createUser(url);
    const npmrc = path.join(dir, 'npmrc');
    await writeFile(npmrc, npmrcText(url, token), { mode: 0o600 });
    return { url, npmrc, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * `npm publish` of each package directory (one holding a built package.json), in order,
 * as `latest` even for a prerelease version.
 */
export async function publishPackages(registry: Pick<LocalRegistry, 'url' | 'npmrc'>, dirs: string[]): Promise<void> {
  for (const dir of dirs) {
    const manifestPath = path.resolve(dir, 'package.json');
    const manifest = await readFile(manifestPath, 'utf8').then(
      (text) => JSON.parse(text) as { name?: string; version?: string },
      (error: NodeJS.ErrnoException) => {
        throw new LocalRegistryError(`cannot publish ${dir}: no package.json there (${error.code ?? error.message}); build the packages first`, { cause: error });
      },
    );
    const id = `${manifest.name ?? '(unnamed)'}@${manifest.version ?? '(no version)'}`;
    const result = await runNpm(['publish', path.resolve(dir), '--tag', 'latest', '--registry', registry.url, '--userconfig', registry.npmrc], registry);
    if (result.code !== 0) {
      const reason = result.output.split('\n').find((line) => /npm error (?!code|A complete log)/.test(line))?.replace(/^npm error\s*/, '') ?? `exit code ${result.code}`;
      throw new LocalRegistryError(`cannot publish ${id} from ${dir} to ${registry.url}: ${reason}`);
    }
  }
}

/**
 * The environment for an npm command against the registry: the caller's, without any
 * `npm_config_*` inherited from an outer npm, and with the registry's npmrc as user config.
 */
export function registryEnv(registry: Pick<LocalRegistry, 'npmrc'>, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const clean = Object.fromEntries(Object.entries(env).filter(([key]) => !key.toLowerCase().startsWith('npm_config_')));
  return { ...clean, NPM_CONFIG_USERCONFIG: registry.npmrc };
}

/**
 * Runs npm against the registry, by default in the registry's own directory, away from any
 * project's .npmrc and workspaces. `output` is stdout and stderr together.
 */
export function runNpm(args: string[], registry: Pick<LocalRegistry, 'npmrc'>, cwd = path.dirname(registry.npmrc)): Promise<NpmResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', args, { cwd, env: registryEnv(registry), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, output }));
  });
}

async function writeConfig(dir: string): Promise<string> {
  const storage = path.join(dir, 'storage');
  await mkdir(storage);
  const config = {
    storage,
    auth: { htpasswd: { file: path.join(dir, 'htpasswd'), max_users: 1 } },
    uplinks: { npmjs: { url: 'https://registry.npmjs.org/' } },
    packages: {
      // Matched in order, first match wins. No `proxy` here: never looked up upstream.
      '@snippets/*': { access: '$all', publish: '$authenticated', unpublish: '$authenticated' },
      '**': { access: '$all', publish: '$authenticated', unpublish: '$authenticated', proxy: 'npmjs' },
    },
    web: { enable: false },
    middlewares: { audit: { enabled: false } },
    log: { type: 'stdout', format: 'json', level: 'warn' },
  };
  const configPath = path.join(dir, 'config.yaml');
  await writeFile(configPath, stringify(config));
  return configPath;
}

function waitForPort(child: ChildProcess, log: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const fail = (reason: string) => {
      clearTimeout(timer);
      reject(new LocalRegistryError(`verdaccio did not start: ${reason}${log.length ? `\n${log.join('').trim().slice(-2000)}` : ''}`));
    };
    const timer = setTimeout(() => fail(`no port after ${START_TIMEOUT_MS / 1000} s`), START_TIMEOUT_MS);
    child.once('message', (message: { port: number }) => {
      clearTimeout(timer);
      resolve(message.port);
    });
    child.once('error', (error) => fail(error.message));
    child.once('exit', (code, signal) => fail(`exited with ${signal ?? `code ${code}`}`));
  });
}

async function waitForPing(url: string, log: string[]): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let last = '';
  while (Date.now() < deadline) {
    const response = await fetch(new URL('-/ping', url)).catch((error: Error) => error);
    if (!(response instanceof Error) && response.ok) return;
    last = response instanceof Error ? response.message : `HTTP ${response.status}`;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new LocalRegistryError(`verdaccio at ${url} did not answer /-/ping: ${last}\n${log.join('').trim().slice(-2000)}`);
}

/** Registers the one user the htpasswd file allows (what `npm adduser` does); returns its token. */
async function createUser(url: string): Promise<string> {
  const password = randomBytes(18).toString('base64url');
  const response = await fetch(new URL(`-/user/org.couchdb.user:${USER}`, url), {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: USER, password }),
  });
  const body = (await response.json().catch(() => ({}))) as { token?: string; error?: string };
  if (!response.ok || !body.token) {
    throw new LocalRegistryError(`verdaccio at ${url} did not create user ${USER}: HTTP ${response.status} ${body.error ?? ''}`.trim());
  }
  return body.token;
}

function npmrcText(url: string, token: string): string {
  const { host, pathname } = new URL(url);
  return [
    `registry=${url}`,
    `//${host}${pathname}:_authToken=${token}`,
    // Nothing here asks the public registry for advisories or anything else.
    'audit=false',
    'fund=false',
    'update-notifier=false',
    '',
  ].join('\n');
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

function parseArgs(argv: string[]): { publish: string[] } {
  const publish: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--publish') {
      while (argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('--')) publish.push(argv[++i]!);
    } else if (arg.startsWith('--publish=')) {
      publish.push(arg.slice('--publish='.length));
    } else {
      throw new LocalRegistryError(`unknown argument ${arg}; usage: tsx scripts/local-registry.ts [--publish DIR...]`);
    }
  }
  return { publish };
}

async function main(): Promise<void> {
  const { publish } = parseArgs(process.argv.slice(2));
  const registry = await startLocalRegistry();
  let stopping = false;
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    registry.stop().then(
      () => process.exit(0),
      (error: Error) => {
        console.error(`local registry: ${error.message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  try {
    await publishPackages(registry, publish);
  } catch (error) {
    await registry.stop();
    throw error;
  }
  for (const dir of publish) console.log(`published ${dir}`);
  console.log(`registry ${registry.url}`);
  console.log(`npmrc    ${registry.npmrc}`);
  console.log(`use: npm --userconfig ${registry.npmrc} install ...   (Ctrl-C stops it and removes its files)`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: Error) => {
    console.error(`local registry: ${error.message}`);
    process.exit(1);
  });
}
