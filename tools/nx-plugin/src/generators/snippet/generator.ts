import { joinPathFragments, type Tree } from '@nx/devkit';
import { renderSnippet, type SnippetKind } from '@snippets/runner/scaffold';
import { snippetRepoRoot } from '../../snippet-repos';

export interface SnippetGeneratorSchema {
  name: string;
  repo: string;
  kind?: SnippetKind;
}

function snippetIds(tree: Tree, dir: string): string[] {
  if (!tree.exists(dir)) return [];
  return tree
    .children(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && tree.isFile(joinPathFragments(dir, f)))
    .map((f) => f.slice(0, -'.ts'.length));
}

/** `nx g snippet NAME --repo=REPO`: the same renderer `npx plop snippet` calls in an extracted repo. */
export default async function snippetGenerator(tree: Tree, schema: SnippetGeneratorSchema): Promise<void> {
  const root = snippetRepoRoot(tree, schema.repo);
  const snippetsDir = joinPathFragments(root, 'snippets');
  const existing = snippetIds(tree, snippetsDir).map((id) => ({
    id,
    content: tree.read(joinPathFragments(snippetsDir, `${id}.ts`), 'utf-8')!,
  }));
  const output = renderSnippet({
    name: schema.name,
    kind: schema.kind,
    existing,
    archived: snippetIds(tree, joinPathFragments(snippetsDir, 'archive')),
  });
  for (const [relative, content] of Object.entries(output.files)) {
    tree.write(joinPathFragments(root, relative), content);
  }
}
