import { execFile } from 'node:child_process';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { readJson, type Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { updateRepo as updateRepoGenerator } from '../src/generators/update-repo/generator';

const exec = promisify(execFile);
const WORKSPACE = fileURLToPath(new URL('../../..', import.meta.url));
// An older release of the plugin, installed as a registry would install it: built JavaScript
// beside the runner it requires, inside the workspace so their own dependencies resolve.
const OLD = path.join(WORKSPACE, 'node_modules/.cache', `update-repo-test-${process.pid}`);
const OLD_PLUGIN = path.join(OLD, 'node_modules/@snippets/nx-plugin');
const options = { name: 'payments-snippets', service: '@acme/payments', serviceImage: 'ghcr.io/acme/payments' };
const root = 'snippet-repos/payments-snippets';

beforeAll(async () => {
  await exec('npm', ['run', 'build:packages'], { cwd: WORKSPACE });
  await cp(path.join(WORKSPACE, 'dist/tools/nx-plugin'), OLD_PLUGIN, { recursive: true });
  await cp(path.join(WORKSPACE, 'dist/libs/runner'), path.join(OLD, 'node_modules/@snippets/runner'), { recursive: true });
  // What the template was in that release: other Makefile wording, another README heading, no .dockerignore.
  const files = path.join(OLD_PLUGIN, 'src/generators/snippet-repo/files');
  const makefile = path.join(files, 'Makefile__tmpl__');
  await writeFile(makefile, (await readFile(makefile, 'utf8')).replace('## add the next snippet and its test', '## add a snippet'));
  const readme = path.join(files, 'README.md__tmpl__');
  await writeFile(readme, (await readFile(readme, 'utf8')).replace('# <%= name %>\n', '# <%= name %> (snippets)\n'));
  await rm(path.join(files, '__dot__dockerignore__tmpl__'));
  const manifest = JSON.parse(await readFile(path.join(OLD_PLUGIN, 'package.json'), 'utf8'));
  await writeFile(path.join(OLD_PLUGIN, 'package.json'), JSON.stringify({ ...manifest, version: '0.0.1' }));
}, 180_000);
afterAll(() => rm(OLD, { recursive: true, force: true }));

/** A workspace with a repo the older plugin made, and the repo's own work since. */
async function repoFromOldTemplate(): Promise<Tree> {
  const tree = createTreeWithEmptyWorkspace();
  tree.write('package.json', JSON.stringify({ name: 'ws', workspaces: ['libs/*', 'snippet-repos/*'], devDependencies: { vitest: '4.1.12', plop: '4.0.5' } }));
  tree.write('libs/payments/package.json', JSON.stringify({ name: '@acme/payments', version: '2.3.4' }));
  const old = createRequire(import.meta.url)(path.join(OLD_PLUGIN, 'src/generators/snippet-repo/generator.js')) as { default: (tree: Tree, o: typeof options) => Promise<void> };
  await old.default(tree, options);
  tree.write(`${root}/snippets/0001_fix.ts`, '// the team\'s snippet\n');
  tree.write(`${root}/snippets.lock`, '{ "the": "team\'s manifest" }\n');
  // The team's own target, away from the line the template changes.
  tree.write(`${root}/Makefile`, `${tree.read(`${root}/Makefile`, 'utf-8')}\nreport: ## the team's own report\n\tnpx snippets history\n`);
  return tree;
}

it('applies the template changes, keeps the repo\'s snippets and edits, and merges a file both changed', async () => {
  const tree = await repoFromOldTemplate();
  expect(readJson(tree, `${root}/snippets-template.json`).template).toBe('@snippets/nx-plugin@0.0.1');
  const report = await updateRepoGenerator(tree, { repo: 'payments-snippets', from: OLD_PLUGIN });

  expect(report).toEqual({ updated: ['README.md'], added: ['.dockerignore'], removed: [], merged: ['Makefile'], conflicts: [] });
  const makefile = tree.read(`${root}/Makefile`, 'utf-8')!;
  expect(makefile).toContain('## add the next snippet and its test');
  expect(makefile).toContain("report: ## the team's own report");
  expect(tree.read(`${root}/README.md`, 'utf-8')).toMatch(/^# payments-snippets\n/);
  expect(tree.read(`${root}/snippets/0001_fix.ts`, 'utf-8')).toBe("// the team's snippet\n");
  expect(tree.read(`${root}/snippets.lock`, 'utf-8')).toBe('{ "the": "team\'s manifest" }\n');
  const current = JSON.parse(await readFile(path.join(WORKSPACE, 'tools/nx-plugin/package.json'), 'utf8')).version;
  expect(readJson(tree, `${root}/snippets-template.json`).template).toBe(`@snippets/nx-plugin@${current}`);
});

it('reports a file whose changes collide instead of overwriting it, and retries it next time', async () => {
  const tree = await repoFromOldTemplate();
  const edited = tree.read(`${root}/README.md`, 'utf-8')!.replace('# payments-snippets (snippets)\n', '# Payments data fixes\n');
  tree.write(`${root}/README.md`, edited);
  const report = await updateRepoGenerator(tree, { repo: 'payments-snippets', from: OLD_PLUGIN });

  expect(report.conflicts).toEqual(['README.md']);
  expect(report.merged).toEqual(['Makefile']);
  expect(tree.read(`${root}/README.md`, 'utf-8')).toBe(edited);
  expect(readJson(tree, `${root}/snippets-template.json`).template).toBe('@snippets/nx-plugin@0.0.1');

  // Merged by hand; the next run finds nothing left to do but recording the version.
  tree.write(`${root}/README.md`, edited.replace('# Payments data fixes\n', '# payments-snippets\n'));
  const again = await updateRepoGenerator(tree, { repo: 'payments-snippets', from: OLD_PLUGIN });
  expect(again.conflicts).toEqual([]);
  expect(readJson(tree, `${root}/snippets-template.json`).template).not.toBe('@snippets/nx-plugin@0.0.1');
});
