/**
 * An input's copy made and proven: its bytes hashed as they are written, then every row
 * validated in one streaming pass that notes where each thousandth row begins, so a batch
 * can start reading at its rows without reading those before them.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { Transform } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import type { InputDigest } from '../snippets/manifest.ts';
import { rawRecords, rowError, type InputFile, type ReadStart } from './input-records.ts';
import { RowSchema } from './row-schema.ts';

/** Every how many rows a scan notes where the next row begins. */
export const INDEX_EVERY = 1000;

export type ByteDigest = Omit<InputDigest, 'rows'>;

/** Hashes `source` into `to` as it writes it: the copy's digest, from one read of the bytes. */
export async function copyHashed(source: Readable, to: string): Promise<ByteDigest> {
  const hash = createHash('sha256');
  let bytes = 0;
  const tee = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  await pipeline(source, tee, createWriteStream(to, { mode: 0o600 }));
  return { sha256: hash.digest('hex'), bytes };
}

/** The digest of a file's bytes. */
export async function digestFile(file: string): Promise<ByteDigest> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/**
 * A JSON array's rows rewritten as NDJSON beside it: a JSON array has no offsets a batch
 * could start reading at, so every batch would read it from its start. NDJSON's lines do.
 * The digest was checked on the array's bytes; row numbers stay the same.
 */
export async function jsonAsNdjson(input: InputFile, to: string): Promise<InputFile> {
  const out = createWriteStream(to, { mode: 0o600 });
  const written = finished(out);
  for await (const record of rawRecords(input)) {
    if (!out.write(`${JSON.stringify(record.cells)}\n`)) await once(out, 'drain');
  }
  out.end();
  await written;
  return { ...input, file: to, declaration: { ...input.declaration, format: 'ndjson' } };
}

export interface InputIndex {
  rows: number;
  /** `starts[k]` begins at row `k * INDEX_EVERY + 1`; undefined where a read must begin at the file's start. */
  starts: (ReadStart | undefined)[];
}

/** Reads every row once: refuses the first that fails the schema (by row number and column), counts them and indexes them. */
export async function scanInput(input: InputFile): Promise<InputIndex> {
  const schema = new RowSchema(input.declaration);
  const starts: (ReadStart | undefined)[] = [undefined];
  let rows = 0;
  for await (const record of rawRecords(input)) {
    rows++;
    const checked = schema.check(record.cells);
    if (!checked.ok) throw rowError(input, rows, `column ${checked.problem.column} ${checked.problem.problem}`);
    if (rows % INDEX_EVERY === 0) starts.push(record.end === undefined ? undefined : { byte: record.end, row: rows, header: record.header });
  }
  return { rows, starts };
}

/** The validated rows `from + 1` to `to` (from 1, all of them when `to` is undefined), read from the nearest noted start. */
export async function* readRows(input: InputFile, index: InputIndex | undefined, from = 0, to?: number): AsyncGenerator<Record<string, unknown>> {
  const schema = new RowSchema(input.declaration);
  // Without a noted start (the first thousand rows, a JSON array), from the file's start.
  const start = index?.starts[Math.floor(from / INDEX_EVERY)];
  let row = start?.row ?? 0;
  for await (const record of rawRecords(input, start)) {
    row++;
    if (row <= from) continue;
    if (to !== undefined && row > to) return;
    const checked = schema.check(record.cells);
    if (!checked.ok) throw rowError(input, row, `column ${checked.problem.column} ${checked.problem.problem}`);
    yield checked.row;
  }
}
