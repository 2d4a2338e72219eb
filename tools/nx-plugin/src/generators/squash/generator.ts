import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { joinPathFragments, type Tree } from '@nx/devkit';
import { renderSquash, type LedgerExport } from '@snippets/runner/scaffold';
import { snippetRepoRoot } from '../../snippet-repos';
import { readSnippetSources, snippetIds } from '../../snippet-sources';

export interface SquashGeneratorSchema {
  repo: string;
  through?: string;
  ledger: string;
}

/** The export usually comes from outside the workspace (a CI artifact), so absolute paths read from disk. */
function readLedgerExport(tree: Tree, file: string): LedgerExport {
  const text = !file
    ? null
    : path.isAbsolute(file)
      ? existsSync(file) ? readFileSync(file, 'utf8') : null
      : tree.exists(file) ? tree.read(file, 'utf-8') : null;
  if (!text) throw new Error(`--ledger '${file ?? ''}' does not exist; save production's \`snippets status --json\` and pass its path`);
  try {
    const parsed = JSON.parse(text) as LedgerExport;
    if (typeof parsed.repo !== 'string' || !Array.isArray(parsed.snippets)) throw new Error('shape');
    return parsed;
  } catch {
    throw new Error(`--ledger '${file}' is not the output of \`snippets status --json\`; export it again`);
  }
}

/** The ledger id in snippets.config.ts (`repo: '...'`), which the export must match. */
function ledgerRepoId(tree: Tree, root: string, fallback: string): string {
  const config = tree.read(joinPathFragments(root, 'snippets.config.ts'), 'utf-8') ?? '';
  return /\brepo:\s*['"]([^'"]+)['"]/.exec(config)?.[1] ?? fallback;
}

/**
 * `nx g squash --repo=REPO --ledger=FILE [--through=ID]`: folds applied snippets into one
 * squash file and moves them to snippets/archive/, kept for audit and never loaded.
 */
export default async function squashGenerator(tree: Tree, schema: SquashGeneratorSchema): Promise<void> {
  const root = snippetRepoRoot(tree, schema.repo);
  const snippetsDir = joinPathFragments(root, 'snippets');
  const output = renderSquash({
    repo: ledgerRepoId(tree, root, schema.repo),
    existing: readSnippetSources(tree, snippetsDir),
    archived: snippetIds(tree, joinPathFragments(snippetsDir, 'archive')),
    through: schema.through,
    ledger: readLedgerExport(tree, schema.ledger),
    lock: tree.read(joinPathFragments(root, 'snippets.lock'), 'utf-8') ?? undefined,
  });
  for (const [from, to] of Object.entries(output.moves)) {
    const source = joinPathFragments(root, from);
    if (tree.exists(source)) tree.rename(source, joinPathFragments(root, to));
  }
  for (const [relative, content] of Object.entries(output.files)) tree.write(joinPathFragments(root, relative), content);
}
