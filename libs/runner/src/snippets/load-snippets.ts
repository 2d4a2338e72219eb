import { isTable } from 'drizzle-orm';
import * as v from 'valibot';
import { importModule } from './import-module.ts';
import { importSnippetBundle, type SnippetImport } from './snippet-bundle.ts';
import { defineSnippet, isSnippet, isSquash, type Snippet, type SquashedSnippet } from './define-snippet.ts';
import type { SnippetFile } from './discovery.ts';
import { describeCause, InputError } from '../errors.ts';
import { describeIssue } from './schema-issues.ts';
import { tableName, type QualifiedTable, type TableInput } from './table-names.ts';
import { COLUMN_TYPES, isInputDeclaration, type InputDeclaration } from '../inputs/declare-input.ts';

/** A snippet's definition as loaded: `touches` checked and named the runner's one way. */
export type LoadedDefinition = Omit<Snippet, 'touches'> & {
  /** `schema.name` with exact case: what the touches check compares, `plan --json` shows and the gates read. */
  readonly touches: readonly QualifiedTable[];
};

/** A snippet file together with its validated definition. */
export interface LoadedSnippet extends SnippetFile {
  definition: LoadedDefinition;
  /** Set for a squash: the snippets it stands for. A squash has no code to run. */
  replaces?: SquashedSnippet[];
}

/** Squash files are named by `nx g squash`: `NNNN_squashed_AAAA_BBBB.ts`. */
export function isSquashFile(file: SnippetFile): boolean {
  return /^\d{4}_squashed_/.test(file.id);
}

const nonEmptyLine = v.pipe(v.string(), v.trim(), v.minLength(1, 'must be a non-empty line'));

const squashSchema = v.object({
  description: nonEmptyLine,
  replaces: v.pipe(
    v.array(v.strictObject({ id: v.pipe(v.string(), v.regex(/^\d{4}_[a-z0-9_]+$/)), checksum: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)) })),
    v.minLength(1, 'must list at least one snippet'),
  ),
});

const fn = v.custom<(...args: unknown[]) => unknown>((value) => typeof value === 'function', 'must be a function');
/** A drizzle table or a name with PostgreSQL's rules (see parseTableName), to its one internal form. */
const touchedTable = v.pipe(
  v.custom<TableInput>((value) => typeof value === 'string' || isTable(value), 'must be a drizzle table or a table name such as \'trades\' or \'"User"\''),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    try {
      return tableName(dataset.value, '');
    } catch (error) {
      addIssue({ message: describeCause(error) });
      return NEVER;
    }
  }),
);

const columnSpecs = new Set(COLUMN_TYPES.flatMap((type) => [type, `${type}?`]));
/** An input made by csv(), ndjson() or json(), whose columns are types the runner reads. */
const inputDeclaration = v.pipe(
  v.custom<InputDeclaration>(isInputDeclaration, 'must be made by csv(), ndjson() or json() from @snippets/runner'),
  v.check((input) => Object.keys(input.columns).length > 0, 'must declare at least one column'),
  v.check(
    (input) => Object.values(input.columns).every((spec) => columnSpecs.has(spec)),
    `has a column whose type is not one of ${COLUMN_TYPES.join(', ')} (each may end in ? to allow null)`,
  ),
  v.check((input) => input.sensitive.every((column) => column in input.columns), 'names a sensitive column it does not declare'),
);
const inputName = v.pipe(v.string(), v.regex(/^[A-Za-z][A-Za-z0-9_-]*$/, 'input names are letters, digits, _ and -, starting with a letter'));

const definitionSchema = v.object({
  description: nonEmptyLine,
  dependsOn: v.optional(v.array(v.string()), []),
  requires: v.optional(v.strictObject({ migrations: v.optional(v.array(v.pipe(v.string(), v.minLength(1))), []) }), { migrations: [] }),
  touches: v.array(touchedTable),
  transaction: v.optional(v.picklist(['atomic', 'batched'], 'must be "atomic" or "batched"'), 'atomic'),
  params: v.optional(v.record(v.string(), v.unknown()), {}),
  inputs: v.optional(v.record(inputName, inputDeclaration), {}),
  up: fn,
  verify: v.optional(fn),
  down: v.optional(fn),
});

const describeIssues = (issues: v.BaseIssue<unknown>[]) => issues.map((issue) => describeIssue(issue, 'definition')).join('; ');

async function loadOne(file: SnippetFile, bundled?: SnippetImport): Promise<LoadedSnippet> {
  let module: { default?: unknown };
  try {
    module = bundled ? await bundled() : await importModule(file.file);
  } catch (error) {
    throw new InputError(`${file.displayPath}: the module failed to load (${describeCause(error)}); fix it so it imports cleanly`, {
      subject: file.displayPath,
      cause: error,
    });
  }
  if (isSquash(module.default)) {
    const squash = v.safeParse(squashSchema, module.default);
    if (!squash.success) {
      throw new InputError(`${file.displayPath}: invalid squash: ${describeIssues(squash.issues)}; regenerate it with nx g squash`, {
        subject: file.displayPath,
      });
    }
    const { description, replaces } = squash.output;
    const never = async () => {
      throw new Error('a squash has no code to run');
    };
    return { ...file, definition: { ...defineSnippet({ description, touches: [], up: never }), touches: [] }, replaces };
  }
  if (!isSnippet(module.default)) {
    throw new InputError(
      `${file.displayPath}: has no default export made by defineSnippet(); add \`export default defineSnippet({ ... })\``,
      { subject: file.displayPath },
    );
  }
  const parsed = v.safeParse(definitionSchema, module.default);
  if (!parsed.success) {
    throw new InputError(`${file.displayPath}: invalid snippet: ${describeIssues(parsed.issues)}`, { subject: file.displayPath });
  }
  return { ...file, definition: Object.freeze({ ...module.default, ...parsed.output }) as LoadedDefinition };
}

/** `ids`: every snippet in the repo, loaded or not. */
function checkDependencies(snippets: LoadedSnippet[], ids: Set<string>): void {
  const byId = new Map(snippets.map((s) => [s.id, s]));
  for (const snippet of snippets) {
    for (const dependency of snippet.definition.dependsOn ?? []) {
      if (!ids.has(dependency)) {
        throw new InputError(
          `${snippet.displayPath}: dependsOn names '${dependency}', which is not a snippet in this repo; use the id (file stem) of an existing snippet`,
          { subject: snippet.displayPath },
        );
      }
    }
  }
  const cycle = findCycle(snippets, byId);
  if (cycle) {
    const first = byId.get(cycle[0]!)!;
    throw new InputError(
      `${first.displayPath}: dependsOn forms a cycle (${cycle.join(' -> ')}); remove one of these dependencies`,
      { subject: first.displayPath },
    );
  }
}

function findCycle(snippets: LoadedSnippet[], byId: Map<string, LoadedSnippet>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (state.get(id) === 'done') return undefined;
    if (state.get(id) === 'visiting') return [...stack.slice(stack.indexOf(id)), id];
    state.set(id, 'visiting');
    stack.push(id);
    for (const dependency of byId.get(id)?.definition.dependsOn ?? []) {
      const cycle = visit(dependency);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const snippet of snippets) {
    const cycle = visit(snippet.id);
    if (cycle) return cycle;
  }
  return undefined;
}

/**
 * A dependency on a snippet that a squash replaced means the squash: later snippets keep
 * their reviewed source (and checksum) when older ones are folded.
 */
function resolveSquashedDependencies(snippets: LoadedSnippet[], active: Set<string>): LoadedSnippet[] {
  const replacedBy = new Map<string, string>();
  for (const squash of snippets.filter((s) => s.replaces)) {
    for (const { id } of squash.replaces!) {
      if (active.has(id)) {
        throw new InputError(`${squash.displayPath}: replaces ${id}, which is still in snippets/; move it to snippets/archive/`, {
          subject: squash.displayPath,
        });
      }
      replacedBy.set(id, squash.id);
    }
  }
  if (replacedBy.size === 0) return snippets;
  return snippets.map((s) => {
    const dependsOn = (s.definition.dependsOn ?? []).map((d) => replacedBy.get(d) ?? d);
    return { ...s, definition: Object.freeze({ ...s.definition, dependsOn }) };
  });
}

/**
 * Imports and validates the snippets `which` selects (all of them unless told); any
 * mistake is an InputError naming the file. A dependency may name any snippet of the
 * repo, loaded or not. Given the repo's root, the snippets are imported from one compiled
 * bundle (see snippet-bundle.ts) where one can be made, else one by one.
 */
export async function loadSnippets(files: SnippetFile[], repoRoot?: string, which: (file: SnippetFile) => boolean = () => true): Promise<LoadedSnippet[]> {
  const selected = files.filter(which);
  const bundle = repoRoot && selected.length ? await importSnippetBundle(repoRoot, files) : undefined;
  const loaded: LoadedSnippet[] = [];
  for (const file of selected) loaded.push(await loadOne(file, bundle?.get(file.id)));
  const ids = new Set(files.map((f) => f.id));
  const snippets = resolveSquashedDependencies(loaded, ids);
  checkDependencies(snippets, ids);
  return snippets;
}

/** Loads only the squash files: what `status` needs to account for archived snippets. */
export async function loadSquashes(files: SnippetFile[]): Promise<LoadedSnippet[]> {
  const squashes: LoadedSnippet[] = [];
  for (const file of files.filter(isSquashFile)) squashes.push(await loadOne(file));
  return squashes;
}
