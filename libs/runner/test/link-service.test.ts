import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';

const run = promisify(execFile);
const PKG = '@acme/svc';
/** The Dockerfile's command, with SERVICE_PACKAGE and SERVICE_DIR as the test's. */
const DOCKERFILE_RUN = 'npx --no-install snippets link-service --package "$SERVICE_PACKAGE" --service-dir "$SERVICE_DIR"';
const argv = (serviceDir: string) => ['link-service', '--package', PKG, '--service-dir', serviceDir];

const write = async (file: string, content: string) => {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, content);
};

/** A service package: its code, and a dependency of its own that says where it was loaded from. */
async function servicePackage(dir: string, options: { version?: string; marker: string; name?: string }): Promise<void> {
  await write(path.join(dir, 'package.json'), JSON.stringify({ name: options.name ?? PKG, version: options.version ?? '1.2.3', type: 'module', main: 'index.js' }));
  await write(path.join(dir, 'index.js'), `import { where } from 'svc-dep';\nexport const marker = ${JSON.stringify(options.marker)};\nexport const depFrom = where;\n`);
  await write(path.join(dir, 'node_modules/svc-dep/package.json'), JSON.stringify({ name: 'svc-dep', version: '1.0.0', type: 'module', main: 'index.js' }));
  await write(path.join(dir, 'node_modules/svc-dep/index.js'), `export const where = ${JSON.stringify(options.marker)};\n`);
}

/** What a snippet sees when it imports the service. */
async function imported(repo: string): Promise<{ marker: string; depFrom: string }> {
  await write(path.join(repo, 'snippets/probe.mjs'), `import { marker, depFrom } from '${PKG}';\nconsole.log(JSON.stringify({ marker, depFrom }));\n`);
  const { stdout } = await run(process.execPath, [path.join(repo, 'snippets/probe.mjs')], { cwd: repo });
  return JSON.parse(stdout) as { marker: string; depFrom: string };
}

describe('snippets link-service: the service code the snippets import is the image\'s', () => {
  let tmp: string;
  let image: string;
  let repo: string;

  beforeEach(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'snippets-link-service-'));
    image = path.join(tmp, 'app');
    repo = path.join(tmp, 'snippets');
    await servicePackage(image, { marker: 'image' });
  });
  afterEach(() => rm(tmp, { recursive: true, force: true }));

  it('is the command the example repo\'s Dockerfile runs', async () => {
    const dockerfile = await readFile(new URL('../../../snippet-repos/example-snippets/Dockerfile', import.meta.url), 'utf8');
    expect(dockerfile).toContain(`RUN ${DOCKERFILE_RUN}`);
    expect(dockerfile).toContain('ARG SERVICE_DIR=/app');
  });

  describe('a registry dependency, installed by npm ci', () => {
    beforeEach(async () => {
      await write(path.join(repo, 'package.json'), JSON.stringify({ name: 'r', private: true, dependencies: { [PKG]: '^1.2.0' } }));
      const lock = { lockfileVersion: 3, packages: { '': { dependencies: { [PKG]: '^1.2.0' } }, [`node_modules/${PKG}`]: { version: '1.2.3', resolved: 'https://registry.npmjs.org/@acme/svc/-/svc-1.2.3.tgz', integrity: 'sha512-x' } } };
      await write(path.join(repo, 'package-lock.json'), JSON.stringify(lock));
      // npm ci's copy: the package's files, the service's dependency hoisted beside it.
      await cp(image, path.join(repo, 'node_modules', PKG), { recursive: true, filter: (src) => !src.includes('node_modules') });
      await cp(path.join(image, 'node_modules/svc-dep'), path.join(repo, 'node_modules/svc-dep'), { recursive: true });
      await write(path.join(repo, 'node_modules/svc-dep/index.js'), `export const where = 'repo';\n`);
    });

    it('compares the files and links the image\'s folder: the snippet loads the image\'s code and its dependencies', async () => {
      await write(path.join(image, 'src/server.ts'), 'only in the image, not in the package');
      const result = await runCli(argv(image), { cwd: repo });
      expect(result.stderr).toBe('');
      expect(result.stdout).toContain(`${PKG} 1.2.3 is the image's ${image} (same version and 2 files as the copy tested)`);
      expect(result.code).toBe(0);
      expect(await readlink(path.join(repo, 'node_modules', PKG))).toBe(image);
      expect(await imported(repo)).toEqual({ marker: 'image', depFrom: 'image' });
    });

    it('refuses another version (exit 3), one line naming both and the fix', async () => {
      await servicePackage(image, { marker: 'image', version: '1.3.0' });
      const result = await runCli(argv(image), { cwd: repo });
      expect(result.code).toBe(3);
      expect(result.stderr.trim().split('\n')).toEqual([
        `snippets: ${PKG}: the image's ${image} is version 1.3.0, package-lock.json installs 1.2.3, the version the snippets were tested with; build FROM the service image of 1.2.3 (SERVICE_VERSION), or update the dependency to 1.3.0 and test again`,
      ]);
      expect(await imported(repo)).toEqual({ marker: 'image', depFrom: 'repo' }); // the copy is left as it was
    });

    it('refuses the same version with other content (exit 3), naming the file', async () => {
      await write(path.join(image, 'index.js'), `${await readFile(path.join(image, 'index.js'), 'utf8')}// patched in the image\n`);
      const result = await runCli(argv(image), { cwd: repo });
      expect(result.code).toBe(3);
      expect(result.stderr.trim()).toBe(
        `snippets: ${PKG} 1.2.3: index.js differs in the image's ${image} (npm installed it from package-lock.json, as the tests did); build the service image and the package 1.2.3 from the same commit, or depend on the version the image carries`,
      );
      await rm(path.join(image, 'index.js'));
      expect((await runCli(argv(image), { cwd: repo })).stderr).toContain('index.js is missing from the image');
    });

    it('refuses a folder of another package (exit 2), naming --service-dir and the fix', async () => {
      await servicePackage(image, { marker: 'image', name: '@acme/other' });
      const result = await runCli(argv(image), { cwd: repo });
      expect(result.code).toBe(2);
      expect(result.stderr.trim()).toBe(`snippets: --service-dir ${image}: its package.json is @acme/other, not ${PKG}; set SERVICE_DIR to where the service image keeps ${PKG}`);
      const missing = await runCli(argv(path.join(tmp, 'nowhere')), { cwd: repo });
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain(`${path.join(tmp, 'nowhere', 'package.json')}: not found`);
    });

    it('refuses a package the repo does not depend on (exit 2)', async () => {
      const result = await runCli(['link-service', '--package', '@acme/other', '--service-dir', image], { cwd: repo });
      expect(result.code).toBe(2);
      expect(result.stderr.trim()).toBe("snippets: package.json: has no dependency on @acme/other; pass --package the service package the snippets import, as package.json's dependencies name it");
    });
  });

  // The Dockerfile's steps for a dependency npm cannot fetch in the image, with real npm, offline.
  describe.each(['file', 'git'])('a %s: dependency', (kind) => {
    beforeEach(async () => {
      const source = path.join(tmp, 'source/svc');
      await servicePackage(source, { marker: 'tested' });
      await rm(path.join(source, 'node_modules'), { recursive: true });
      let spec = 'file:../source/svc';
      if (kind === 'git') {
        const git = (...args: string[]) => run('git', args, { cwd: source });
        await git('init', '-q');
        await git('add', '.');
        await git('-c', 'user.email=t@example.com', '-c', 'user.name=t', 'commit', '-qm', 'svc');
        spec = `git+file://${source}`;
      }
      const dev = path.join(tmp, 'dev');
      await write(path.join(dev, 'package.json'), JSON.stringify({ name: 'r', private: true, dependencies: { [PKG]: spec } }));
      await run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: dev });
      // The image build sees package.json and package-lock.json, not the service's source.
      await mkdir(repo);
      await cp(path.join(dev, 'package.json'), path.join(repo, 'package.json'));
      await cp(path.join(dev, 'package-lock.json'), path.join(repo, 'package-lock.json'));
      await rm(path.join(tmp, 'source'), { recursive: true });
      await rm(dev, { recursive: true });
    });

    it('installs the rest with npm ci, then links the image\'s folder after checking its name and version', async () => {
      const copied = await readFile(path.join(repo, 'package.json'));
      const env = { ...process.env, SERVICE_PACKAGE: PKG };
      await run('sh', ['-c', 'npm pkg delete "dependencies.${SERVICE_PACKAGE}" && npm ci --omit=dev --offline --no-audit --no-fund'], { cwd: repo, env });
      await writeFile(path.join(repo, 'package.json'), copied); // COPY package.json ./ again
      const result = await runCli(argv(image), { cwd: repo });
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`same version as tested; content not compared: package-lock.json installs ${PKG} from a ${kind === 'file' ? 'link' : 'git'} dependency, not installed here`);
      expect(await imported(repo)).toEqual({ marker: 'image', depFrom: 'image' });
    });

    it('refuses an image of another version', async () => {
      await servicePackage(image, { marker: 'image', version: '2.0.0' });
      const result = await runCli(argv(image), { cwd: repo });
      expect(result.code).toBe(3);
      expect(result.stderr).toContain('package-lock.json installs 1.2.3');
    });
  });
});
