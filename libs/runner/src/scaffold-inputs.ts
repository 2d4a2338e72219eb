import { InputError } from './errors.ts';
import { MANIFEST_FILE, type ManifestInputs } from './snippets/manifest.ts';
import type { SchemaTable } from './service/schema-tables.ts';

/**
 * What an input snippet adds besides its source and test: the input's name and id column,
 * its committed fixture, the lock's inputs kept across a rewrite and the README's line.
 */

/** The input an input snippet reads when `--input` is not given. */
export const DEFAULT_INPUT = 'accounts';
const INPUT_NAME = /^[a-z][a-z0-9_]*$/;
const MAX_INPUT_NAME = 40;

/** Checks `--input`: it becomes `inputs.NAME` in the snippet and `NAME=location` in SNIPPETS_INPUTS. */
export function inputName(name: string | undefined): string {
  const trimmed = name?.trim() || DEFAULT_INPUT;
  if (!INPUT_NAME.test(trimmed) || trimmed.length > MAX_INPUT_NAME) {
    throw new InputError(
      `--input '${trimmed}' is not valid; use a lower-case name of letters, digits and _ (at most ${MAX_INPUT_NAME} characters), e.g. --input=accounts`,
      { subject: 'input' },
    );
  }
  return trimmed;
}

/** The input's `id` column: its declared type, how a row's value becomes the table's key, and made-up values for the fixture. */
export interface InputKey {
  columnType: 'text' | 'uuid' | 'integer' | 'bigint';
  /** The key value of `row`, as the drizzle column takes it. */
  value: string;
  samples: string[];
}

const SAMPLE_NUMBERS = [101, 102, 103];

/** The id column for `table`'s key (text when there is no table): bigint ids stay strings in the input. */
export function inputKey(table: SchemaTable | undefined): InputKey {
  const numbers = SAMPLE_NUMBERS.map(String);
  const key = table?.key;
  if (key?.type === 'bigint') return { columnType: 'bigint', value: 'BigInt(row.id)', samples: numbers };
  if (key?.type === 'number') {
    return /^big/.test(key.sqlType) ? { columnType: 'bigint', value: 'Number(row.id)', samples: numbers } : { columnType: 'integer', value: 'row.id', samples: numbers };
  }
  if (key?.sqlType === 'uuid') return { columnType: 'uuid', value: 'row.id', samples: SAMPLE_NUMBERS.map((n) => `00000000-0000-4000-8000-000000000${n}`) };
  return { columnType: 'text', value: 'row.id', samples: SAMPLE_NUMBERS.map((n) => `example-${n}`) };
}

/** The `inputs` entries of snippets.lock's text, so rewriting the lock keeps every approved digest. */
export function lockInputs(text: string | undefined): ManifestInputs {
  if (text === undefined) return {};
  let inputs: unknown;
  try {
    inputs = (JSON.parse(text) as { inputs?: unknown }).inputs ?? {};
  } catch (error) {
    throw new InputError(
      `${MANIFEST_FILE}: is not valid JSON (${(error as Error).message}), and rewriting it would lose its inputs' digests; fix it (after a merge conflict keep both sides' entries) and run this again`,
      { subject: MANIFEST_FILE },
    );
  }
  if (typeof inputs !== 'object' || inputs === null || Array.isArray(inputs)) {
    throw new InputError(`${MANIFEST_FILE}: its "inputs" is not an object of snippet ids; fix it and run this again`, { subject: MANIFEST_FILE });
  }
  return inputs as ManifestInputs;
}

/**
 * How SNIPPETS_INPUTS names the input: `name`, or `snippetId/name` when another snippet in
 * the tree declares an input of the same name.
 */
export function inputEntryName(id: string, name: string, inputs: ManifestInputs, ids: Set<string>): string {
  const shared = Object.entries(inputs).some(([other, named]) => other !== id && ids.has(other) && name in named);
  return shared ? `${id}/${name}` : name;
}

export const README_FILE = 'README.md';
/** The line of the repo README's "Inputs" section above which each input snippet's line goes. */
export const INPUTS_MARK = '<!-- nx g snippet --kind=input and npx plop input-snippet add a line above this one -->';

/** `readme` with `line` added above the inputs mark, or at the end when the README has none. */
export function addReadmeLine(readme: string | undefined, line: string): string {
  const text = readme ?? '';
  const at = text.indexOf(INPUTS_MARK);
  if (at < 0) return `${text}${text && !text.endsWith('\n') ? '\n' : ''}${line}\n`;
  return `${text.slice(0, at)}${line}\n${text.slice(at)}`;
}
