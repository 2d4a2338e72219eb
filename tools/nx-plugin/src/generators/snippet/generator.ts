import { joinPathFragments, type Tree } from '@nx/devkit';
import * as path from 'node:path';
import { checkTableGiven, renderSnippet, resolveSnippetTable, serviceOfRecord, TEMPLATE_RECORD, type SnippetKind } from '@snippets/runner/scaffold';
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
  const kind = schema.kind ?? 'basic';
  checkTableGiven(kind, Boolean(schema.table?.trim()));
  // The table is found in the service's drizzle schema, resolved from the repo as its
  // snippets will resolve it (then from the workspace, for a repo not yet installed).
  const table = schema.table?.trim()
    ? await resolveSnippetTable(schema.table, serviceOfRecord(tree.read(joinPathFragments(root, TEMPLATE_RECORD), 'utf-8') ?? undefined), [path.join(tree.root, root), tree.root, __dirname])
    : undefined;
  const output = renderSnippet({
    name: schema.name,
    kind,
    table,
    existing: readSnippetSources(tree, snippetsDir),
    archived: snippetIds(tree, joinPathFragments(snippetsDir, 'archive')),
  });
  for (const [relative, content] of Object.entries(output.files)) {
    tree.write(joinPathFragments(root, relative), content);
  }
}
