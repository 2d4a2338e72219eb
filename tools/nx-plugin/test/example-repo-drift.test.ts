import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { expect, it } from 'vitest';
import snippetRepoGenerator from '../src/generators/snippet-repo/generator';

const workspaceRoot = fileURLToPath(new URL('../../..', import.meta.url));
const root = 'snippet-repos/example-snippets';

it('the committed example repo is exactly what nx g snippet-repo makes (apart from its snippets)', async () => {
  // A fresh tree holding what the generator reads from the workspace: the package manifests.
  const tree = createTreeWithEmptyWorkspace();
  for (const file of ['package.json', 'libs/runner/package.json', 'libs/gates/package.json', 'libs/example-service/package.json']) {
    tree.write(file, readFileSync(path.join(workspaceRoot, file)));
  }
  await snippetRepoGenerator(tree, {
    name: 'example-snippets',
    service: '@snippets/example-service',
    serviceImage: 'ghcr.io/acme/example-service',
  });
  const generated = tree
    .listChanges()
    .filter((c) => c.path.startsWith(`${root}/`))
    // The lock lists the repo's snippets, which the generator does not write.
    .filter((c) => c.path !== `${root}/snippets.lock`);
  expect(generated.length).toBeGreaterThan(10);
  for (const change of generated) {
    const committed = readFileSync(path.join(workspaceRoot, change.path), 'utf8');
    expect(committed, `${change.path} drifted from the snippet-repo template; regenerate the example repo`).toBe(change.content!.toString('utf8'));
  }
});
