import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import ejs from 'ejs';
import { sha256 } from './checksum.ts';
import { loadConfig } from './config.ts';
import { InputError } from './errors.ts';
import { addReadmeLine, inputEntryName, inputKey, inputName, lockInputs, README_FILE } from './scaffold-inputs.ts';
import { buildManifest, MANIFEST_FILE, renderManifest, type ManifestInputs } from './snippets/manifest.ts';
import { findSchemaTable, loadServiceSchema, serviceOfRecord, TEMPLATE_RECORD, type SchemaTable } from './service/schema-tables.ts';
import { defaultFunctionModule, findServiceFunction, type ServiceFunction } from './service/service-functions.ts';

export { serviceOfRecord, TEMPLATE_RECORD, type SchemaTable } from './service/schema-tables.ts';
export { DEFAULT_INPUT, INPUTS_MARK } from './scaffold-inputs.ts';
export { defaultFunctionModule, findServiceFunction, type ServiceFunction } from './service/service-functions.ts';

/**
 * The one renderer of new snippets: `nx g snippet` in the workspace and `npx plop snippet`
 * in an extracted repo both call it, so they write byte-identical files.
 */

export const SNIPPET_KINDS = ['basic', 'delete', 'batched', 'call', 'input'] as const;
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
  /** The table a delete snippet deletes from or a batched snippet walks, found in the service's schema. */
  table?: SchemaTable;
  /** The service function a call snippet imports and calls with its `db` and `params`. */
  call?: ServiceFunction;
  /** The input an input snippet reads (default `accounts`). */
  input?: string;
  /** snippets.lock as it is: the rewritten lock keeps its inputs' entries. */
  lock?: string;
  /** README.md as it is: an input snippet adds a line naming its input. */
  readme?: string;
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

export { buildManifest, renderManifest } from './snippets/manifest.ts';

/** A delete or batched snippet needs its table; checked before the schema is loaded to find it. */
export function checkTableGiven(kind: SnippetKind, given: boolean): void {
  if (kind === 'batched' && !given) {
    throw new InputError('--kind batched needs --table, the table to walk in batches: its export in the service\'s drizzle schema or its name in SQL (e.g. --table=trades)', { subject: 'table' });
  }
  if (kind === 'delete' && !given) {
    throw new InputError('--kind delete needs --table, the table to delete from: its export in the service\'s drizzle schema or its name in SQL (e.g. --table=api_keys)', { subject: 'table' });
  }
}

/** A call snippet needs the service function it calls; checked before the service is imported to find it. */
export function checkFunctionGiven(kind: SnippetKind, given: boolean): void {
  if (kind === 'call' && !given) {
    throw new InputError("--kind call needs --function, the service function the snippet calls with its db and params: its export name (e.g. --function=mergeDuplicateDeals), from the service's domain module or --from", {
      subject: 'function',
    });
  }
}

/** The service function named by `--function`, in `from` or else the service's domain module, resolved as the snippet will resolve it. */
export async function resolveSnippetFunction(exportName: string, from: string | undefined, service: string, resolveFrom: string[]): Promise<ServiceFunction> {
  return findServiceFunction(exportName.trim(), from?.trim() || defaultFunctionModule(service), resolveFrom);
}

/** The table named by `--table`, found in the drizzle schema of the service the repo at `repoRoot` was made for. */
export async function resolveSnippetTable(table: string, service: string, resolveFrom: string[]): Promise<SchemaTable> {
  return findSchemaTable(await loadServiceSchema(service, resolveFrom), table.trim());
}

export function renderSnippet(input: ScaffoldInput): ScaffoldOutput {
  const kind = input.kind ?? 'basic';
  if (!SNIPPET_KINDS.includes(kind)) {
    throw new InputError(`--kind '${kind}' is not one of ${SNIPPET_KINDS.join(', ')}`, { subject: 'kind' });
  }
  const table = input.table;
  checkTableGiven(kind, table !== undefined);
  checkFunctionGiven(kind, input.call !== undefined);
  if (input.call && kind !== 'call') {
    throw new InputError(`--function is for --kind=call (this is --kind=${kind}); add --kind=call or leave --function out`, { subject: 'function' });
  }
  if (input.input !== undefined && kind !== 'input') {
    throw new InputError(`--input is for --kind=input (this is --kind=${kind}); add --kind=input or leave --input out`, { subject: 'input' });
  }
  const slug = snippetSlug(input.name);
  const ids = input.existing.map((s) => s.id);
  if (ids.some((id) => id.replace(/^\d{4}_/, '') === slug)) {
    throw new InputError(`a snippet named '${slug}' already exists; pick a name that says what this one does`, { subject: 'name' });
  }
  const { number, previous } = nextSnippet(ids, input.archived);
  const id = `${String(number).padStart(4, '0')}_${slug}`;
  const inputs = lockInputs(input.lock);
  const read = kind === 'input' ? readInput(id, input.input, table, inputs, new Set([...ids, id])) : undefined;
  const data = { id, description: describe(slug), dependsOn: previous, table, call: input.call, input: read };
  const source = ejs.render(template(`${kind}.ts`), data);
  const test = ejs.render(template(read ? 'input-test.ts' : 'test.ts'), data);

  const all = [...input.existing, { id, content: source }].sort((a, b) => a.id.localeCompare(b.id));
  // A new input is declared but not approved yet: null until `snippets input add` pins its digest.
  const lockedInputs = read ? { ...inputs, [id]: { [read.name]: null } } : inputs;
  const manifest = buildManifest(all.map((s) => ({ id: s.id, checksum: sha256(s.content) })), lockedInputs);
  const files: Record<string, string> = {
    [`snippets/${id}.ts`]: source,
    [`snippets/${id}.test.ts`]: test,
    [MANIFEST_FILE]: renderManifest(manifest),
  };
  if (read) {
    files[`snippets/fixtures/${id}/${read.name}.csv`] = ejs.render(template('input.csv'), data);
    files[README_FILE] = addReadmeLine(input.readme, ejs.render(template('input-readme.md'), data).trimEnd());
  }
  return { id, files };
}

/** What the input templates need: the input's name, how SNIPPETS_INPUTS names it, and its id column. */
function readInput(id: string, name: string | undefined, table: SchemaTable | undefined, inputs: ManifestInputs, ids: Set<string>) {
  const checked = inputName(name);
  return { name: checked, entry: inputEntryName(id, checked, inputs, ids), key: inputKey(table) };
}

/**
 * Reads the repo at `repoRoot` from disk, renders the snippet and writes it: what
 * `npx plop snippet` runs in an extracted repo. Nothing is written if rendering fails.
 */
export async function scaffoldSnippetInDir(
  repoRoot: string,
  options: { name: string; kind?: SnippetKind; table?: string; function?: string; from?: string; input?: string },
): Promise<ScaffoldOutput> {
  const kind = options.kind ?? 'basic';
  checkTableGiven(kind, Boolean(options.table?.trim()));
  checkFunctionGiven(kind, Boolean(options.function?.trim()));
  const recordFile = path.join(repoRoot, TEMPLATE_RECORD);
  const record = existsSync(recordFile) ? readFileSync(recordFile, 'utf8') : undefined;
  const table = options.table?.trim() ? await resolveSnippetTable(options.table, serviceOfRecord(record), [repoRoot]) : undefined;
  const call = options.function?.trim()
    ? await resolveSnippetFunction(options.function, options.from, serviceOfRecord(record, '--function'), [repoRoot])
    : undefined;
  const output = renderSnippet({
    name: options.name,
    kind,
    table,
    call,
    input: options.input,
    ...readRepoSnippets(repoRoot),
    lock: readIfExists(path.join(repoRoot, MANIFEST_FILE)),
    readme: readIfExists(path.join(repoRoot, README_FILE)),
  });
  writeFiles(repoRoot, output.files);
  return output;
}

function readIfExists(file: string): string | undefined {
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
}

function listIds(dir: string): string[] {
  return existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
        .map((f) => f.slice(0, -'.ts'.length))
    : [];
}

function readRepoSnippets(repoRoot: string): { existing: ExistingSnippet[]; archived: string[] } {
  const snippetsDir = path.join(repoRoot, 'snippets');
  return {
    existing: listIds(snippetsDir).map((id) => ({ id, content: readFileSync(path.join(snippetsDir, `${id}.ts`), 'utf8') })),
    archived: listIds(path.join(snippetsDir, 'archive')),
  };
}

function writeFiles(repoRoot: string, files: Record<string, string>): void {
  for (const [relative, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(repoRoot, relative)), { recursive: true });
    writeFileSync(path.join(repoRoot, relative), content);
  }
}

/** What `snippets status --json` prints: the ledger export `nx g squash --ledger` reads. */
export interface LedgerExport {
  repo: string;
  snippets: { id: string; state: string; checksum: string | null }[];
}

export interface SquashInput {
  /** The repo's ledger id (`repo` in snippets.config.ts). */
  repo: string;
  existing: ExistingSnippet[];
  archived?: string[];
  /** The last snippet to fold; default the last of the first snippets production has all run. */
  through?: string;
  ledger: LedgerExport;
  /** snippets.lock as it is: the snippets left keep their inputs' entries. */
  lock?: string;
}

export interface SquashOutput {
  id: string;
  /** Files to move into snippets/archive/ (repo-relative from -> to). */
  moves: Record<string, string>;
  files: Record<string, string>;
}

const SQUASH_MARK = /^\d{4}_squashed_/;

/**
 * Folds every snippet up to `through` into one squash file, after checking the ledger
 * export shows each as run in production with the same checksum.
 */
export function renderSquash(input: SquashInput): SquashOutput {
  if (input.ledger.repo !== input.repo) {
    throw new InputError(`--ledger is an export of repo '${input.ledger.repo}', not '${input.repo}'; export this repo's status with snippets status --json`, {
      subject: 'ledger',
    });
  }
  const active = [...input.existing].filter((s) => ID.test(s.id)).sort((a, b) => a.id.localeCompare(b.id));
  const last = active.at(-1);
  if (!last) throw new InputError('there are no snippets to squash', { subject: 'through' });
  const states = new Map(input.ledger.snippets.map((s) => [s.id, s]));
  const ranInProduction = (snippet: ExistingSnippet) => {
    const entry = states.get(snippet.id);
    return Boolean(entry && ['applied', 'baselined', 'squashed'].includes(entry.state) && entry.checksum === sha256(snippet.content));
  };
  // By default fold the longest run of snippets, from the first, that production has run.
  const prefix = active.findIndex((s) => !ranInProduction(s));
  const through = input.through ?? (prefix < 0 ? last : active[Math.max(prefix - 1, 0)]!).id;
  const end = active.findIndex((s) => s.id === through);
  if (end < 0) {
    throw new InputError(`--through '${through}' is not a snippet in snippets/ (the last one is ${last.id}); pass the id of the last snippet to fold`, {
      subject: 'through',
    });
  }
  const folded = active.slice(0, end + 1);
  if (folded.length < 2) {
    const why = input.through ? `--through '${through}' folds only one snippet` : `production has run only ${through} of the first snippets`;
    throw new InputError(`${why}; there is nothing to squash`, { subject: 'through' });
  }

  const replaces: { id: string; checksum: string }[] = [];
  for (const snippet of folded) {
    const checksum = sha256(snippet.content);
    const entry = states.get(snippet.id);
    if (!ranInProduction(snippet)) {
      const state = entry ? (entry.checksum === checksum ? entry.state : 'changed') : 'unknown to';
      throw new InputError(`${snippet.id} is ${state} in the ledger export, not applied; squash only what production has run (use --through)`, {
        subject: snippet.id,
      });
    }
    if (SQUASH_MARK.test(snippet.id)) {
      // Folding an earlier squash folds what it stands for.
      const nested = /replaces: \[([\s\S]*?)\]/.exec(snippet.content)?.[1] ?? '';
      for (const match of nested.matchAll(/id: "([^"]+)", checksum: "([0-9a-f]{64})"/g)) replaces.push({ id: match[1]!, checksum: match[2]! });
    } else {
      replaces.push({ id: snippet.id, checksum });
    }
  }

  const { number } = nextSnippet(active.map((s) => s.id), input.archived);
  const first = folded[0]!.id.slice(0, 4);
  const id = `${String(number).padStart(4, '0')}_squashed_${first}_${through.slice(0, 4)}`;
  const source = ejs.render(template('squash.ts'), {
    description: `Squash of ${replaces.length} snippets applied in production, ${replaces[0]!.id} to ${replaces.at(-1)!.id}`,
    replaces,
  });
  const remaining = [...active.slice(end + 1), { id, content: source }];
  const checksums = remaining.sort((a, b) => a.id.localeCompare(b.id)).map((s) => ({ id: s.id, checksum: sha256(s.content) }));
  const manifest = buildManifest(checksums, lockInputs(input.lock));
  const moves: Record<string, string> = {};
  for (const snippet of folded) {
    moves[`snippets/${snippet.id}.ts`] = `snippets/archive/${snippet.id}.ts`;
    moves[`snippets/${snippet.id}.test.ts`] = `snippets/archive/${snippet.id}.test.ts`;
  }
  return { id, moves, files: { [`snippets/${id}.ts`]: source, [MANIFEST_FILE]: renderManifest(manifest) } };
}

/**
 * `npx plop squash LEDGER [THROUGH]` in an extracted repo: the same squash as `nx g squash`,
 * read from and written to disk. Nothing is written if the checks fail.
 */
export async function squashInDir(repoRoot: string, options: { ledgerFile: string; through?: string }): Promise<SquashOutput> {
  const { repo } = await loadConfig(repoRoot);
  let ledger: LedgerExport;
  try {
    ledger = JSON.parse(readFileSync(path.resolve(repoRoot, options.ledgerFile), 'utf8')) as LedgerExport;
  } catch (error) {
    throw new InputError(`ledger export '${options.ledgerFile}' is not readable JSON (${(error as Error).message}); save production's \`snippets status --json\` there`, {
      subject: options.ledgerFile,
    });
  }
  const output = renderSquash({ repo, ...readRepoSnippets(repoRoot), through: options.through, ledger, lock: readIfExists(path.join(repoRoot, MANIFEST_FILE)) });
  mkdirSync(path.join(repoRoot, 'snippets', 'archive'), { recursive: true });
  for (const [from, to] of Object.entries(output.moves)) {
    if (existsSync(path.join(repoRoot, from))) renameSync(path.join(repoRoot, from), path.join(repoRoot, to));
  }
  writeFiles(repoRoot, output.files);
  return output;
}
