import { joinPathFragments, type Tree } from '@nx/devkit';
import type { ExistingSnippet } from '@snippets/runner/scaffold';

/** Snippet ids (file stems) directly in `dir`, tests excluded. */
export function snippetIds(tree: Tree, dir: string): string[] {
  if (!tree.exists(dir)) return [];
  return tree
    .children(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && tree.isFile(joinPathFragments(dir, f)))
    .map((f) => f.slice(0, -'.ts'.length));
}

export function readSnippetSources(tree: Tree, dir: string): ExistingSnippet[] {
  return snippetIds(tree, dir).map((id) => ({ id, content: tree.read(joinPathFragments(dir, `${id}.ts`), 'utf-8')! }));
}
