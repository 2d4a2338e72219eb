import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';

const RUNNER = fileURLToPath(new URL('..', import.meta.url));
const IDS = ['0001_a', '0002_b', '0003_c', '0004_d', '0005_e', '0006_f', '0007_g', '0008_h', '0009_i'];

function labelledSnippet(id: string): string {
  return `import { defineSnippet } from '@snippets/runner';
import { label } from '../lib/label.ts';

export default defineSnippet({
  description: \`${id} \${label}\`,
  touches: ['effects'],
  async up({ rows, sql }) {
    await rows(sql\`select 1\`);
  },
});
`;
}

/**
 * A repo with a node_modules of its own (the runner linked in, as npm installs it), so the
 * compiled modules land in its own cache.
 */
let dir: string;
const write = async (file: string, content: string) => {
  await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
  await writeFile(path.join(dir, file), content);
};
const cacheDir = () => path.join(dir, 'node_modules', '.cache', 'snippets');
const bundles = async () => (await readdir(cacheDir()).catch(() => [])).filter((name) => /^bundle-\w+\.mjs$/.test(name));
const cli = (...args: string[]) => runCli(args, { cwd: dir, env: { DATABASE_URL: 'pglite:memory' } });
const plan = () => cli('plan', '--expect', IDS.join(','));

beforeEach(async () => {
  dir = path.join(await mkdtemp(path.join(os.tmpdir(), 'compiled-')), 'meta-repo');
  await mkdir(path.join(dir, 'node_modules', '@snippets'), { recursive: true });
  await symlink(RUNNER, path.join(dir, 'node_modules', '@snippets', 'runner'), 'dir');
  await write('package.json', JSON.stringify({ name: 'compiled-snippets', private: true, type: 'module' }));
  // The repo id from the config's own location: a compiled config must see its own import.meta.
  await write(
    'snippets.config.ts',
    `import path from 'node:path';\nimport { fileURLToPath } from 'node:url';\nimport { defineConfig } from '@snippets/runner';\n\nexport default defineConfig({ repo: path.basename(path.dirname(fileURLToPath(import.meta.url))) });\n`,
  );
  await write('lib/label.ts', "export const label = 'first';\n");
  for (const id of IDS) await write(`snippets/${id}.ts`, labelledSnippet(id));
  expect((await cli('manifest')).code).toBe(0);
});
afterEach(() => rm(path.dirname(dir), { recursive: true, force: true }));

describe('snippets compiled into one cached bundle', () => {
  it('runs them from the bundle, and compiles again when a snippet or a module it imports changes', async () => {
    // What an image build runs, so that a container compiles nothing.
    const compiled = await cli('compile');
    expect(compiled.stdout).toMatch(new RegExp(`^compiled 9 snippets into ${cacheDir()}/bundle-\\w+\\.mjs$`, 'm'));
    expect(compiled.code).toBe(0);
    const first = await plan();
    expect(first.stdout).toContain('0001_a first');
    expect(first.code).toBe(0);
    const [bundle] = await bundles();
    expect(bundle).toBeDefined();
    const source = await readFile(path.join(cacheDir(), bundle!), 'utf8');
    expect(source).toContain('${label}');
    // What runs is the bundle: a change made to it alone shows.
    await writeFile(path.join(cacheDir(), bundle!), source.replace('"first"', '"from the bundle"'));
    expect((await plan()).stdout).toContain('0001_a from the bundle');

    await write('lib/label.ts', "export const label = 'second';\n");
    const edited = await plan();
    expect(edited.stdout).toContain('0001_a second');
    expect(edited.stdout).not.toContain('0001_a first');
    // The same snippets, so the same bundle, compiled again with the helper's new code.
    expect(await bundles()).toEqual([bundle]);
    expect(await readFile(path.join(cacheDir(), bundle!), 'utf8')).toContain('"second"');

    await write('snippets/0002_b.ts', labelledSnippet('0002_b').replace('description: `', 'description: `renamed '));
    expect((await cli('manifest')).code).toBe(0);
    expect((await plan()).stdout).toContain('renamed 0002_b second');
  });

  it('imports the runner once for all its snippets; one importing a name the runner lacks is named as one by one', async () => {
    expect((await cli('compile')).code).toBe(0);
    const [bundle] = await bundles();
    const source = await readFile(path.join(cacheDir(), bundle!), 'utf8');
    expect(source.match(/^import .* from "@snippets\/runner";$/gm)).toHaveLength(1);

    await write('snippets/0004_d.ts', labelledSnippet('0004_d').replace('{ defineSnippet }', '{ defineSnippet, defineSnipet }').replace('description:', 'up2: defineSnipet,\n  description:'));
    expect((await cli('manifest')).code).toBe(0);
    const result = await plan();
    expect(result.stderr).toMatch(/snippets\/0004_d\.ts: the module failed to load \(.*does not provide an export named 'defineSnipet'/);
    expect(result.code).toBe(2);
  });

  it('gives the config and a snippet that reads import.meta their own file', async () => {
    await write(
      'snippets/0003_c.ts',
      `import { defineSnippet } from '@snippets/runner';\n\nexport default defineSnippet({\n  description: 'from ' + new URL(import.meta.url).pathname.split('/').pop(),\n  touches: ['effects'],\n  async up() {},\n});\n`,
    );
    expect((await cli('manifest')).code).toBe(0);
    const result = await plan();
    expect(result.stdout).toContain('from 0003_c.ts');
    expect(result.code).toBe(0);
    const status = JSON.parse((await cli('status', '--json')).stdout);
    expect(status.repo).toBe('meta-repo');
  });

  it('names the snippet that throws while loading, as one by one', async () => {
    await write('snippets/0004_d.ts', `${labelledSnippet('0004_d')}\nthrow new Error('boom at import');\n`);
    expect((await cli('manifest')).code).toBe(0);
    for (const result of [await plan(), await cli('compile')]) {
      expect(result.stderr).toContain('snippets/0004_d.ts: the module failed to load (boom at import)');
      expect(result.code).toBe(2);
    }
  });
});
