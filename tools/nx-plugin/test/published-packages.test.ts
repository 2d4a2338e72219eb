import { execFile } from 'node:child_process';
import { access, constants, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { childEnv } from './child-env.ts';

const exec = promisify(execFile);
const WORKSPACE = fileURLToPath(new URL('../../..', import.meta.url));
const PACKAGES = {
  '@snippets/runner': 'libs/runner',
  '@snippets/gates': 'libs/gates',
  '@snippets/service-handle': 'libs/service-handle',
  '@snippets/nx-plugin': 'tools/nx-plugin',
  '@snippets/example-service': 'libs/example-service',
};

interface Manifest {
  name: string;
  exports?: Record<string, string | { types: string; default: string }>;
  main?: string;
  types?: string;
  bin?: Record<string, string>;
  engines?: Record<string, string>;
  scripts?: unknown;
  devDependencies?: unknown;
}

/** What `npm publish` would upload from a built package folder. */
async function packedFiles(dir: string): Promise<string[]> {
  const { stdout } = await exec('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: dir });
  return (JSON.parse(stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path).sort();
}

describe('the published packages, built by npm run build:packages', () => {
  beforeAll(async () => {
    await exec('npm', ['run', 'build:packages'], { cwd: WORKSPACE });
  }, 180_000);

  it.each(Object.entries(PACKAGES))('%s ships built JavaScript, declarations and assets only, nothing of the workspace', async (name, root) => {
    const dir = path.join(WORKSPACE, 'dist', root);
    const manifest = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')) as Manifest;
    expect(manifest.name).toBe(name);
    expect(manifest.engines).toEqual({ node: '>=20.19' });
    expect(manifest.scripts).toBeUndefined();
    expect(manifest.devDependencies).toBeUndefined();

    const files = await packedFiles(dir);
    // Sources, tests and configs stay home: TypeScript only as declarations or generator templates.
    const leaked = files.filter((f) => /(^|\/)(test|node_modules)\/|tsconfig|vitest\.config|\.test\.|(?<!\.d)\.ts$/.test(f) && !f.includes('/files'));
    expect(leaked).toEqual([]);
    for (const file of files.filter((f) => /\.(js|json|d\.ts)$/.test(f))) {
      expect(await readFile(path.join(dir, file), 'utf8'), `${file} names the workspace`).not.toContain(WORKSPACE.replace(/\/$/, ''));
    }

    // Every entry point the manifest names is in the package.
    const entries = [
      ...Object.values(manifest.exports ?? {}).flatMap((e) => (typeof e === 'string' ? [e] : [e.types, e.default])),
      ...Object.values(manifest.bin ?? {}),
      ...(manifest.main ? [manifest.main, manifest.types!] : []),
    ].map((e) => path.normalize(e));
    for (const entry of entries) expect(files, `${name} exports ${entry}`).toContain(entry);
    for (const bin of Object.values(manifest.bin ?? {})) await access(path.join(dir, bin), constants.X_OK);
  });

  it('the built runner, used as a library from plain Node, loads a repo\'s TypeScript config', async () => {
    // No tsx and no test runner: the published runner must bring TypeScript loading itself.
    const repo = await mkdtemp(path.join(os.tmpdir(), 'plain-node-'));
    try {
      await writeFile(path.join(repo, 'package.json'), JSON.stringify({ name: 'plain-node-snippets', type: 'module' }));
      await writeFile(path.join(repo, 'snippets.config.ts'), "const config: { repo: string } = { repo: 'plain-node' };\nexport default config;\n");
      const config = pathToFileURL(path.join(WORKSPACE, 'dist/libs/runner/dist/config.js')).href;
      const script = `const { loadConfig } = await import(${JSON.stringify(config)}); console.log((await loadConfig(${JSON.stringify(repo)})).repo);`;
      const { stdout } = await exec(process.execPath, ['--input-type=module', '-e', script]);
      expect(stdout.trim()).toBe('plain-node');
    } finally {
      await rm(repo, { recursive: true, force: true });
    }
  });

  it('the built CLIs start from the built JavaScript', async () => {
    const runner = await exec(process.execPath, [path.join(WORKSPACE, 'dist/libs/runner/bin/snippets.js'), '--version']);
    expect(runner.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    // Inside the workspace, the gates' import of @snippets/runner resolves to the runner's
    // TypeScript sources, which tsx loads here; installed, it is the built runner (published e2e).
    const gates = await exec(process.execPath, ['--import', 'tsx/esm', path.join(WORKSPACE, 'dist/libs/gates/bin/snippet-gates.js'), '--help'], { cwd: WORKSPACE });
    expect(gates.stdout).toContain('check');
    // Usage errors are exit 2 with one line; the built plugin needs no TypeScript loader.
    const extract = await exec(process.execPath, [path.join(WORKSPACE, 'dist/tools/nx-plugin/bin/snippets-extract.js')], { env: childEnv() }).catch((error: { code: number; stderr: string }) => error);
    expect(['code' in extract ? extract.code : 0, extract.stderr.trim()]).toEqual([2, 'snippets-extract: usage: snippets-extract NAME DEST [--registry URL]']);
    const generators = JSON.parse(await readFile(path.join(WORKSPACE, 'dist/tools/nx-plugin/generators.json'), 'utf8')) as { generators: Record<string, { factory: string; schema: string }> };
    for (const { factory, schema } of Object.values(generators.generators)) {
      await access(path.join(WORKSPACE, 'dist/tools/nx-plugin', `${factory}.js`));
      await access(path.join(WORKSPACE, 'dist/tools/nx-plugin', schema));
    }
  });
});
