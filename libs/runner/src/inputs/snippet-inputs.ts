/**
 * A snippet's inputs as its code reads them: each an async iterable over the run's
 * proven copy, the rows validated again as they are read, and held for masking (see
 * masking.ts) while in hand.
 */
import type { InputDigest } from '../snippets/manifest.ts';
import type { InputRows } from './declare-input.ts';
import type { InputFile } from './input-records.ts';
import { readRows, type InputIndex } from './input-scan.ts';
import { SensitiveValues } from './masking.ts';

/** `all()` refuses inputs bigger than this: they are read as a stream or in batches. */
export const ALL_ROWS_LIMIT = 100_000;

/** One input of one snippet, fetched, checked against snippets.lock and scanned: ready to read. */
export interface PreparedInput extends InputFile {
  name: string;
  snippetId: string;
  digest: InputDigest;
  index: InputIndex;
  /** The sensitive values of the rows in hand. */
  inHand: SensitiveValues;
}

/** A snippet's prepared inputs, by input name. */
export type PreparedInputs = Readonly<Record<string, PreparedInput>>;

export function prepared(input: InputFile & { name: string; snippetId: string; digest: InputDigest; index: InputIndex }): PreparedInput {
  return { ...input, inHand: new SensitiveValues(input.declaration.sensitive) };
}

function inputRows(input: PreparedInput): InputRows<Record<string, unknown>> {
  const rows = async function* () {
    for await (const row of readRows(input, input.index)) {
      input.inHand.hold(row);
      yield row;
    }
  };
  return {
    name: input.name,
    count: input.digest.rows,
    sha256: input.digest.sha256,
    [Symbol.asyncIterator]: rows,
    async all() {
      if (input.digest.rows > ALL_ROWS_LIMIT) {
        throw new Error(`${input.label}: all() holds at most ${ALL_ROWS_LIMIT} rows and this input has ${input.digest.rows}; iterate it with for await, or walk it with batch({ input: '${input.name}' })`);
      }
      const all: Record<string, unknown>[] = [];
      for await (const row of rows()) all.push(row);
      return all;
    },
  };
}

/** The `inputs` of a snippet's context. */
export function contextInputs(inputs: PreparedInputs | undefined): Record<string, InputRows<Record<string, unknown>>> {
  return Object.fromEntries(Object.values(inputs ?? {}).map((input) => [input.name, inputRows(input)]));
}

/** What the ledger records of the inputs a snippet read: their digests, by name. */
export function inputDigests(inputs: PreparedInputs | undefined): Record<string, InputDigest> | undefined {
  const entries = Object.values(inputs ?? {});
  return entries.length ? Object.fromEntries(entries.map((input) => [input.name, input.digest])) : undefined;
}
