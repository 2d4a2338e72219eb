import { joinPathFragments, type Tree } from '@nx/devkit';
import * as path from 'node:path';
import {
  checkFunctionGiven,
  checkTableGiven,
  renderSnippet,
  resolveSnippetFunction,
  resolveSnippetTable,
  serviceOfRecord,
  TEMPLATE_RECORD,
  type SnippetKind,
} from '@snippets/runner/scaffold';
import { snippetRepoRoot } from '../../snippet-repos';
import { readSnippetSources, snippetIds } from '../../snippet-sources';

export interface SnippetGeneratorSchema {
  name: string;
  repo: string;
  kind?: SnippetKind;
  table?: string;
  /** The service function a call snippet calls, by its export name. */
  function?: string;
  /** The module that exports it; default the service's `/domain` subpath. */
  from?: string;
  /** The input an input snippet reads; default `accounts`. */
  input?: string;
}

/** `nx g snippet NAME --repo=REPO`: the same renderer `npx plop snippet` calls in an extracted repo. */
export default async function snippetGenerator(tree: Tree, schema: SnippetGeneratorSchema): Promise<void> {
  const root = snippetRepoRoot(tree, schema.repo);
  const snippetsDir = joinPathFragments(root, 'snippets');
  const kind = schema.kind ?? 'basic';
  checkTableGiven(kind, Boolean(schema.table?.trim()));
  checkFunctionGiven(kind, Boolean(schema.function?.trim()));
  // The table and the function are found in the service's code, resolved from the repo as
  // its snippets will resolve it (then from the workspace, for a repo not yet installed).
  const record = tree.read(joinPathFragments(root, TEMPLATE_RECORD), 'utf-8') ?? undefined;
  const resolveFrom = [path.join(tree.root, root), tree.root, __dirname];
  const table = schema.table?.trim() ? await resolveSnippetTable(schema.table, serviceOfRecord(record), resolveFrom) : undefined;
  const call = schema.function?.trim()
    ? await resolveSnippetFunction(schema.function, schema.from, serviceOfRecord(record, '--function'), resolveFrom)
    : undefined;
  const output = renderSnippet({
    name: schema.name,
    kind,
    table,
    call,
    input: schema.input,
    existing: readSnippetSources(tree, snippetsDir),
    archived: snippetIds(tree, joinPathFragments(snippetsDir, 'archive')),
    lock: tree.read(joinPathFragments(root, 'snippets.lock'), 'utf-8') ?? undefined,
    readme: tree.read(joinPathFragments(root, 'README.md'), 'utf-8') ?? undefined,
  });
  for (const [relative, content] of Object.entries(output.files)) {
    tree.write(joinPathFragments(root, relative), content);
  }
}
