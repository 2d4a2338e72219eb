import { joinPathFragments, type Tree } from '@nx/devkit';
import { renderSnippet, type SnippetKind } from '@snippets/runner/scaffold';
import { snippetRepoRoot } from '../../snippet-repos';
import { readSnippetSources, snippetIds } from '../../snippet-sources';

export interface SnippetGeneratorSchema {
  name: string;
  repo: string;
  kind?: SnippetKind;
  table?: string;
}

/** `nx g snippet NAME --repo=REPO`: the same renderer `npx plop snippet` calls in an extracted repo. */
export default async function snippetGenerator(tree: Tree, schema: SnippetGeneratorSchema): Promise<void> {
  const root = snippetRepoRoot(tree, schema.repo);
  const snippetsDir = joinPathFragments(root, 'snippets');
  const output = renderSnippet({
    name: schema.name,
    kind: schema.kind,
    table: schema.table,
    existing: readSnippetSources(tree, snippetsDir),
    archived: snippetIds(tree, joinPathFragments(snippetsDir, 'archive')),
  });
  for (const [relative, content] of Object.entries(output.files)) {
    tree.write(joinPathFragments(root, relative), content);
  }
}
