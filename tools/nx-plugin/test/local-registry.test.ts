import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishPackages, runNpm, startLocalRegistry, type LocalRegistry } from '../../../scripts/local-registry.ts';
import { WORKSPACE_ROOT } from '../../../scripts/workspace-copy.ts';

const USER_NPMRC = path.join(os.homedir(), '.npmrc');
const readUserNpmrc = () => (existsSync(USER_NPMRC) ? readFile(USER_NPMRC, 'utf8') : Promise.resolve(null));

/** A package directory like a built one: `@snippets/probe` depending on a public package. */
async function makeProbe(root: string, version: string): Promise<string> {
  const dir = await mkdtemp(path.join(root, 'probe-'));
  const manifest = { name: '@snippets/probe', version, main: 'index.js', dependencies: { 'is-number': '7.0.0' } };
  await writeFile(path.join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
  await writeFile(path.join(dir, 'index.js'), `module.exports = 'probe ${version}';\n`);
  return dir;
}

const portIsFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

describe('the local registry', () => {
  let registry: LocalRegistry;
  let scratch: string;
  let userNpmrcBefore: string | null;

  beforeAll(async () => {
    userNpmrcBefore = await readUserNpmrc();
    scratch = await mkdtemp(path.join(os.tmpdir(), 'snippets-registry-test-'));
    const start = performance.now();
    registry = await startLocalRegistry();
    console.log(`local registry: started in ${Math.round(performance.now() - start)} ms`);
  });
  afterAll(async () => {
    await registry?.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  it('writes an npmrc naming only itself and a token', async () => {
    expect(registry.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const lines = (await readFile(registry.npmrc, 'utf8')).split('\n').filter(Boolean);
    expect(lines[0]).toBe(`registry=${registry.url}`);
    expect(lines[1]).toMatch(new RegExp(`^//127\\.0\\.0\\.1:\\d+/:_authToken=\\S+$`));
  });

  it('serves what was published under @snippets, and installs it with only its npmrc', async () => {
    const probe = await makeProbe(scratch, '0.1.0-dev.1');
    const start = performance.now();
    await publishPackages(registry, [probe]);
    console.log(`local registry: published @snippets/probe in ${Math.round(performance.now() - start)} ms`);

    const view = await runNpm(['view', '@snippets/probe', 'version', '--userconfig', registry.npmrc], registry);
    expect(view.stdout.trim()).toBe('0.1.0-dev.1');

    const project = await mkdtemp(path.join(scratch, 'project-'));
    await writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
    const install = await runNpm(['install', '@snippets/probe', '--userconfig', registry.npmrc], registry, project);
    expect(install.output).toContain('added 2 packages');
    expect(install.code).toBe(0);
    const installed = JSON.parse(await readFile(path.join(project, 'node_modules/@snippets/probe/package.json'), 'utf8'));
    expect(installed.version).toBe('0.1.0-dev.1');
    // Both came through this registry: the scope from its storage, is-number through its uplink.
    const lock = JSON.parse(await readFile(path.join(project, 'package-lock.json'), 'utf8'));
    expect(lock.packages['node_modules/@snippets/probe'].resolved).toBe(`${registry.url}@snippets/probe/-/probe-0.1.0-dev.1.tgz`);
    expect(lock.packages['node_modules/is-number'].resolved).toBe(`${registry.url}is-number/-/is-number-7.0.0.tgz`);
  });

  it('proxies packages outside the scope, never those inside it', async () => {
    const outside = await runNpm(['view', 'is-number@7.0.0', 'version', '--userconfig', registry.npmrc], registry);
    expect(outside.stdout.trim()).toBe('7.0.0');
    const unpublished = await fetch(new URL('@snippets%2frunner', registry.url));
    expect(unpublished.status).toBe(404);
  });

  it('says which package could not be published', async () => {
    const again = await makeProbe(scratch, '0.1.0-dev.1');
    await expect(publishPackages(registry, [again])).rejects.toThrow(
      /^cannot publish @snippets\/probe@0\.1\.0-dev\.1 from .+ to http:\/\/127\.0\.0\.1:\d+\/: 409 Conflict .*already present$/,
    );
    await expect(publishPackages(registry, [path.join(scratch, 'missing')])).rejects.toThrow(/^cannot publish .*missing: no package\.json there \(ENOENT\)/);
  });

  it('leaves ~/.npmrc as it was, and stop() frees its port and removes its files', async () => {
    expect(await readUserNpmrc()).toBe(userNpmrcBefore);
    const port = Number(new URL(registry.url).port);
    const dir = path.dirname(registry.npmrc);
    await registry.stop();
    expect(existsSync(dir)).toBe(false);
    expect(await portIsFree(port)).toBe(true);
    await expect(fetch(new URL('-/ping', registry.url))).rejects.toThrow();
  });

  it('runs as a command that publishes, prints its URL and npmrc, and cleans up on SIGINT', async () => {
    const probe = await makeProbe(scratch, '0.2.0');
    const child = spawn(path.join(WORKSPACE_ROOT, 'node_modules/.bin/tsx'), ['scripts/local-registry.ts', '--publish', probe], {
      cwd: WORKSPACE_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let output = '';
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      const printed = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          if (/^npmrc /m.test(output)) resolve(output);
        });
        child.on('exit', () => reject(new Error(`exited early:\n${output}`)));
      });
      expect(printed).toContain(`published ${probe}`);
      const url = /^registry (\S+)$/m.exec(printed)?.[1] ?? '';
      const npmrc = /^npmrc\s+(\S+)$/m.exec(printed)?.[1] ?? '';
      const view = await runNpm(['view', '@snippets/probe', 'version', '--userconfig', npmrc], { npmrc });
      expect(view.stdout.trim()).toBe('0.2.0');

      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(existsSync(path.dirname(npmrc))).toBe(false);
      expect(await portIsFree(Number(new URL(url).port))).toBe(true);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
    }
  });
});
