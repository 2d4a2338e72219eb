import { execFile } from 'node:child_process';
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishPackages, registryEnv, runNpm, startLocalRegistry, type LocalRegistry } from '../../../scripts/local-registry.ts';

const WORKSPACE = fileURLToPath(new URL('../../..', import.meta.url));
// The released packages; their Nx project names are their package names.
const PACKAGES = { '@snippets/runner': 'libs/runner', '@snippets/gates': 'libs/gates', '@snippets/nx-plugin': 'tools/nx-plugin' };
type Name = keyof typeof PACKAGES;
const NAMES = Object.keys(PACKAGES) as Name[];
const NX_ENV = { NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', CI: 'true', NO_COLOR: '1' };

/** Runs a command; rejects with the end of its output when it fails. */
function sh(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')} failed (${error.code}):\n${`${stdout}${stderr}`.slice(-6000)}`));
      else resolve(stdout);
    });
  });
}

const readJson = async (file: string) => JSON.parse(await readFile(file, 'utf8'));
const seconds = (start: number) => `${((performance.now() - start) / 1000).toFixed(1)} s`;

function bump(version: string, part: 'minor' | 'patch'): string {
  const [major, minor, patch] = version.split('.').map(Number) as [number, number, number];
  return part === 'minor' ? `${major}.${minor + 1}.0` : `${major}.${minor}.${patch + 1}`;
}

describe('nx release, in a clean clone of the workspace', () => {
  let clone: string;
  let registry: LocalRegistry;
  let workspaceTagsBefore: string;
  /** The versions the release should make from the committed ones. */
  const next = {} as Record<Name, string>;

  beforeAll(async () => {
    workspaceTagsBefore = await sh('git', ['tag', '--list', '@snippets/*'], WORKSPACE);
    clone = await mkdtemp(path.join(os.tmpdir(), 'snippets-release-'));
    const git = (...args: string[]) => sh('git', args, clone);

    // CI releases from a clone of what is committed. Without a remote, nothing can be pushed
    // back to the workspace (and a release that tried to push would fail here).
    await sh('git', ['clone', '--quiet', WORKSPACE, clone], os.tmpdir());
    await git('remote', 'remove', 'origin');
    await git('config', 'user.name', 'Release Test');
    await git('config', 'user.email', 'release-test@example.com');
    let start = performance.now();
    await sh('npm', ['ci', '--no-audit', '--no-fund', '--ignore-scripts'], clone);
    console.log(`release: npm ci in ${seconds(start)}`);
    registry = await startLocalRegistry();

    // The committed state is the previous release: tagged NAME@VERSION (in place of any tags
    // the clone brought, so the bumps come from this test's commits only) and published, as a
    // registry holds it. The release's lock file update needs that: the example snippet repo
    // still asks for the previous runner.
    start = performance.now();
    const previous = {} as Record<Name, string>;
    for (const name of NAMES) previous[name] = (await readJson(path.join(clone, PACKAGES[name], 'package.json'))).version;
    await sh('npm', ['run', 'build:packages'], clone);
    await publishPackages(registry, Object.values(PACKAGES).map((root) => path.join(clone, 'dist', root)));
    const oldTags = (await git('tag', '--list', '@snippets/*')).split('\n').filter(Boolean);
    if (oldTags.length) await git('tag', '--delete', ...oldTags);
    for (const name of NAMES) await git('tag', `${name}@${previous[name]}`);
    console.log(`release: previous release built, published and tagged in ${seconds(start)}`);

    // A feature in the runner, a fix in the gates, nothing in the plugin.
    await appendFile(path.join(clone, 'libs/runner/src/index.ts'), '// Exported for snippet repos and the gates.\n');
    await git('commit', '--quiet', '-m', 'feat(runner): say who the index exports are for', 'libs/runner/src/index.ts');
    await appendFile(path.join(clone, 'libs/gates/src/index.ts'), '// The gates a snippet passes before it merges.\n');
    await git('commit', '--quiet', '-m', 'fix(gates): say what the index exports', 'libs/gates/src/index.ts');
    next['@snippets/runner'] = bump(previous['@snippets/runner'], 'minor');
    next['@snippets/gates'] = bump(previous['@snippets/gates'], 'patch');
    // The plugin has no commit of its own but depends on the runner: Nx counts the runner's
    // commit as relevant to it but not scoped to it (a patch), and updateDependents "auto"
    // patch-bumps a bumped package's dependents in the same release group. A patch either way.
    next['@snippets/nx-plugin'] = bump(previous['@snippets/nx-plugin'], 'patch');

    // What a maintainer runs; --yes answers the publish prompt. npm (the build, the lock file
    // update, the publish) sees only the local registry's npmrc.
    start = performance.now();
    await sh(path.join(clone, 'node_modules/.bin/nx'), ['release', '--yes'], clone, { ...registryEnv(registry), ...NX_ENV });
    console.log(`release: nx release in ${seconds(start)}`);
  }, 300_000);

  afterAll(async () => {
    await registry?.stop();
    if (clone) await rm(clone, { recursive: true, force: true });
  });

  it('versions each package from its commits, in the workspace and in dist/, and updates dependents\' ranges', async () => {
    // From 0.1.0 each: runner 0.2.0, gates 0.1.1, plugin 0.1.1.
    for (const name of NAMES) {
      for (const dir of [PACKAGES[name], path.join('dist', PACKAGES[name])]) {
        const manifest = await readJson(path.join(clone, dir, 'package.json'));
        expect(manifest.version, dir).toBe(next[name]);
        if (name !== '@snippets/runner') expect(manifest.dependencies['@snippets/runner'], dir).toBe(`^${next['@snippets/runner']}`);
        // The plugin's snippet-repo generator pins the gates from this range: kept in step.
        if (name === '@snippets/nx-plugin') expect(manifest.peerDependencies['@snippets/gates'], dir).toBe(`^${next['@snippets/gates']}`);
      }
    }
  });

  it('writes each package\'s CHANGELOG.md naming its commits and updated dependencies', async () => {
    const changelog = (name: Name) => readFile(path.join(clone, PACKAGES[name], 'CHANGELOG.md'), 'utf8');
    const runner = await changelog('@snippets/runner');
    expect(runner.startsWith(`## ${next['@snippets/runner']} `)).toBe(true);
    expect(runner).toContain('- **runner:** say who the index exports are for');
    const gates = await changelog('@snippets/gates');
    expect(gates.startsWith(`## ${next['@snippets/gates']} `)).toBe(true);
    expect(gates).toContain('- **gates:** say what the index exports');
    expect(gates).toContain(`- Updated @snippets/runner to ${next['@snippets/runner']}`);
    const plugin = await changelog('@snippets/nx-plugin');
    expect(plugin.startsWith(`## ${next['@snippets/nx-plugin']} `)).toBe(true);
    expect(plugin).toContain(`- Updated @snippets/runner to ${next['@snippets/runner']}`);
    expect(plugin).not.toContain('say who the index exports are for');
  });

  it('commits everything it changed and tags the commit NAME@VERSION', async () => {
    const message = await sh('git', ['log', '-1', '--format=%B'], clone);
    expect(message.split('\n')[0]).toBe('chore(release): publish');
    for (const name of NAMES) expect(message).toContain(`- project: ${name} ${next[name]}`);
    const tags = (await sh('git', ['tag', '--points-at', 'HEAD'], clone)).split('\n').filter(Boolean);
    expect(tags.sort()).toEqual(NAMES.map((name) => `${name}@${next[name]}`).sort());
    expect(await sh('git', ['status', '--porcelain'], clone)).toBe('');
  });

  it('publishes the new versions as latest, without TypeScript sources', async () => {
    const view = async (...args: string[]) => (await runNpm(['view', ...args], registry)).stdout.trim();
    expect(await view(`@snippets/runner@${next['@snippets/runner']}`, 'version')).toBe(next['@snippets/runner']);
    for (const name of NAMES) {
      expect(await view(name, 'dist-tags.latest')).toBe(next[name]);
      const pack = await runNpm(['pack', `${name}@latest`, '--dry-run', '--json'], registry);
      const files = (JSON.parse(pack.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
      expect(files).toContain('package.json');
      expect(files.filter((f) => /(?<!\.d)\.ts$/.test(f)), name).toEqual([]);
    }
    // The demo service is built for snippet repos to install in tests, never released.
    const service = await runNpm(['view', '@snippets/example-service', 'version'], registry);
    expect([service.code, service.output]).toEqual([1, expect.stringContaining('E404')]);
    // Installing the new gates brings the new runner.
    const gates = JSON.parse(await view(`@snippets/gates@${next['@snippets/gates']}`, 'dependencies', '--json'));
    expect(gates['@snippets/runner']).toBe(`^${next['@snippets/runner']}`);
  });

  it('leaves the workspace it was cloned from without new tags', async () => {
    expect(await sh('git', ['tag', '--list', '@snippets/*'], WORKSPACE)).toBe(workspaceTagsBefore);
  });
});
