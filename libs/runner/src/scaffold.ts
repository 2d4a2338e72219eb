import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import ejs from 'ejs';
import { sha256 } from './checksum.ts';
import { InputError } from './errors.ts';
import { buildManifest, MANIFEST_FILE, renderManifest } from './manifest.ts';

/**
 * The one renderer of new snippets: `nx g snippet` in the workspace and `npx plop snippet`
 * in an extracted repo both call it, so they write byte-identical files.
 */

export const SNIPPET_KINDS = ['basic', 'delete', 'batched'] as const;
export type SnippetKind = (typeof SNIPPET_KINDS)[number];

export interface ExistingSnippet {
  id: string;
  content: string;
}

export interface ScaffoldInput {
  /** What the snippet does, in kebab or snake case: `backfill-settlement-currency`. */
  name: string;
  kind?: SnippetKind;
  /** The repo's active snippets (in `snippets/`), with their source. */
  existing: ExistingSnippet[];
  /** Ids of archived snippets (squashed); their numbers are never reused. */
  archived?: string[];
}

export interface ScaffoldOutput {
  id: string;
  /** Paths relative to the repo root, with their content; includes the updated snippets.lock. */
  files: Record<string, string>;
}

const NAME = /^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$/;
const ID = /^(\d{4})_[a-z0-9_]+$/;
const MAX_NAME = 60;

function template(name: string): string {
  return readFileSync(new URL(`../templates/snippet/${name}.ejs`, import.meta.url), 'utf8');
}

/** Checks a snippet name and turns it into the file slug. */
export function snippetSlug(name: string): string {
  const trimmed = name ?? '';
  if (!NAME.test(trimmed) || trimmed.length > MAX_NAME) {
    throw new InputError(
      `snippet name '${trimmed}' is not valid; use lower-case words joined by - or _ (at most ${MAX_NAME} characters), e.g. backfill-settlement-currency`,
      { subject: 'name' },
    );
  }
  return trimmed.replaceAll('-', '_');
}

function describe(slug: string): string {
  const words = slug.replaceAll('_', ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** The next free number after every active and archived snippet, and the snippet it follows. */
export function nextSnippet(existing: string[], archived: string[] = []): { number: number; previous: string | undefined } {
  const numbered = [...existing, ...archived].map((id) => Number(ID.exec(id)?.[1] ?? 0));
  const number = Math.max(0, ...numbered) + 1;
  if (number > 9999) throw new InputError('snippet numbers are four digits and 9999 is taken; squash old snippets first', { subject: 'name' });
  const active = [...existing].filter((id) => ID.test(id)).sort();
  return { number, previous: active.at(-1) };
}

export { buildManifest, renderManifest } from './manifest.ts';

export function renderSnippet(input: ScaffoldInput): ScaffoldOutput {
  const kind = input.kind ?? 'basic';
  if (!SNIPPET_KINDS.includes(kind)) {
    throw new InputError(`--kind '${kind}' is not one of ${SNIPPET_KINDS.join(', ')}`, { subject: 'kind' });
  }
  if (kind === 'batched') {
    throw new InputError(`--kind batched needs the runner's batch helper, which this version does not have yet; use --kind basic or delete`, {
      subject: 'kind',
    });
  }
  const slug = snippetSlug(input.name);
  const ids = input.existing.map((s) => s.id);
  if (ids.some((id) => id.replace(/^\d{4}_/, '') === slug)) {
    throw new InputError(`a snippet named '${slug}' already exists; pick a name that says what this one does`, { subject: 'name' });
  }
  const { number, previous } = nextSnippet(ids, input.archived);
  const id = `${String(number).padStart(4, '0')}_${slug}`;
  const data = { id, description: describe(slug), dependsOn: previous };
  const source = ejs.render(template(`${kind}.ts`), data);
  const test = ejs.render(template('test.ts'), data);

  const all = [...input.existing, { id, content: source }].sort((a, b) => a.id.localeCompare(b.id));
  const manifest = buildManifest(all.map((s) => ({ id: s.id, checksum: sha256(s.content) })));
  return {
    id,
    files: {
      [`snippets/${id}.ts`]: source,
      [`snippets/${id}.test.ts`]: test,
      [MANIFEST_FILE]: renderManifest(manifest),
    },
  };
}

/**
 * Reads the repo at `repoRoot` from disk, renders the snippet and writes it: what
 * `npx plop snippet` runs in an extracted repo. Nothing is written if rendering fails.
 */
export function scaffoldSnippetInDir(repoRoot: string, options: { name: string; kind?: SnippetKind }): ScaffoldOutput {
  const snippetsDir = path.join(repoRoot, 'snippets');
  const listIds = (dir: string) =>
    existsSync(dir)
      ? readdirSync(dir)
          .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
          .map((f) => f.slice(0, -3))
      : [];
  const existing = listIds(snippetsDir).map((id) => ({ id, content: readFileSync(path.join(snippetsDir, `${id}.ts`), 'utf8') }));
  const output = renderSnippet({ ...options, existing, archived: listIds(path.join(snippetsDir, 'archive')) });
  for (const [relative, content] of Object.entries(output.files)) {
    mkdirSync(path.dirname(path.join(repoRoot, relative)), { recursive: true });
    writeFileSync(path.join(repoRoot, relative), content);
  }
  return output;
}
