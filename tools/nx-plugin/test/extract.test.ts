import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { childEnv } from './child-env.ts';

const exec = promisify(execFile);
const WORKSPACE = fileURLToPath(new URL('../../..', import.meta.url));
const extract = (...args: string[]) =>
  exec('npm', ['run', '--silent', 'extract', '--', ...args], { cwd: WORKSPACE, env: childEnv() }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'extract-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

it('copies a snippet repo into its own git repository, depending on published versions', async () => {
  const dest = path.join(dir, 'example-snippets');
  const result = await extract('example-snippets', dest);
  expect(result.code).toBe(0);
  expect(result.stdout).toContain('dependencies: @snippets/runner@^0.1.0, @snippets/gates@^0.1.0, @snippets/example-service@^0.1.0');

  // The same files git tracks in the workspace, committed, nothing left over.
  const tracked = (await exec('git', ['ls-files', 'snippet-repos/example-snippets'], { cwd: WORKSPACE })).stdout.split('\n').filter(Boolean).map((f) => f.replace('snippet-repos/example-snippets/', '')).sort();
  const extracted = (await exec('git', ['ls-files'], { cwd: dest })).stdout.split('\n').filter(Boolean).sort();
  expect(extracted).toEqual(tracked);
  expect((await exec('git', ['status', '--porcelain'], { cwd: dest })).stdout).toBe('');
  expect((await exec('git', ['log', '--format=%s'], { cwd: dest })).stdout).toMatch(/^Extract example-snippets from the snippets workspace at \w+\n$/);
  const manifest = JSON.parse(await readFile(path.join(dest, 'package.json'), 'utf8'));
  expect(manifest.dependencies).toEqual({ '@snippets/runner': '^0.1.0', '@snippets/gates': '^0.1.0', '@snippets/example-service': '^0.1.0' });
});

it('refuses a name that is not a snippet repo, and a destination that is not empty, writing nothing', async () => {
  const missing = await extract('no-such-repo', path.join(dir, 'x'));
  expect([missing.code, missing.stderr.trim()]).toEqual([2, 'snippets-extract: snippet-repos/no-such-repo is not a snippet repo (no snippets.config.ts); pass the name of one in snippet-repos/']);
  await writeFile(path.join(dir, 'keep.txt'), 'mine');
  const full = await extract('example-snippets', dir);
  expect([full.code, full.stderr.trim()]).toEqual([2, `snippets-extract: ${dir} is not empty; extract into a new directory`]);
  expect(await readFile(path.join(dir, 'keep.txt'), 'utf8')).toBe('mine');
});
