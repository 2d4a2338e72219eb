import { joinPathFragments, type Tree } from '@nx/devkit';

/** Where `nx g snippet-repo` puts repos, relative to the workspace root. */
export const SNIPPET_REPOS_DIR = 'snippet-repos';

/** The root of snippet repo `repo`, or a clear error naming the fix. */
export function snippetRepoRoot(tree: Tree, repo: string): string {
  const root = joinPathFragments(SNIPPET_REPOS_DIR, repo ?? '');
  if (!repo || repo.includes('/') || repo.includes('..') || !tree.exists(joinPathFragments(root, 'snippets.config.ts'))) {
    throw new Error(`--repo '${repo}' is not a snippet repo (no ${root}/snippets.config.ts); create it with \`nx g snippet-repo ${repo || 'NAME'}\``);
  }
  return root;
}
