/**
 * Reads an input file's raw records, streaming, from its start or from a byte offset a
 * scan noted (see input-scan.ts). CSV with csv-parse, a JSON array with stream-json,
 * NDJSON split by hand (a line is a record, so splitting is all it takes and the byte
 * offsets stay exact). Parsers' own messages are never passed on: they quote the text
 * they choke on, and input data is sensitive.
 */
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { parse as parseCsv } from 'csv-parse';
import { InputError } from '../errors.ts';
import type { InputDeclaration } from './declare-input.ts';

export interface RawRecord {
  cells: Record<string, unknown>;
  /** The byte offset just after the record; undefined for a JSON array, read as one value. */
  end: number | undefined;
  /** A CSV's header, which a read from an offset needs again. */
  header?: string[];
}

/** Where a read begins: the byte offset of a record's start, the rows before it and the CSV header. */
export interface ReadStart {
  byte: number;
  row: number;
  header?: string[];
}

export interface InputFile {
  /** The file's path: the run's local copy, or a test's fixture. */
  file: string;
  declaration: InputDeclaration;
  /** How messages name the input: `input accounts of 0007_close_accounts`. */
  label: string;
}

const CSV_PROBLEMS: Record<string, string> = {
  CSV_RECORD_INCONSISTENT_FIELDS_LENGTH: 'has a different number of fields than the header',
  CSV_RECORD_INCONSISTENT_COLUMNS: 'has a different number of fields than the header',
  CSV_INVALID_CLOSING_QUOTE: 'has a quote inside an unquoted field or after a closing quote',
  CSV_INVALID_OPENING_QUOTE: 'has a quote inside an unquoted field',
  CSV_QUOTE_NOT_CLOSED: 'opens a quote that is never closed',
  CSV_MAX_RECORD_SIZE: 'is too big',
  INVALID_OPENING_QUOTE: 'has a quote inside an unquoted field',
};

/** The file itself failed to read (removed, unreadable): an error of the system, not of a row. */
const isReadError = (error: unknown) => typeof (error as { syscall?: unknown })?.syscall === 'string';

function readError(input: InputFile, error: unknown): InputError {
  return new InputError(`${input.label}: its file could not be read (${(error as { code?: string }).code ?? 'read error'}); run again`, { subject: input.label, cause: error });
}

export function rowError(input: InputFile, row: number, problem: string): InputError {
  return new InputError(`${input.label} row ${row}: ${problem}; fix the file (values are not shown, inputs are sensitive) and approve it again with snippets input add`, {
    subject: input.label,
  });
}

async function* csvRecords(input: InputFile, start: ReadStart | undefined): AsyncGenerator<RawRecord> {
  const from = start?.byte ?? 0;
  const source = createReadStream(input.file, { start: from });
  const parser = parseCsv({ bom: from === 0, info: true, delimiter: input.declaration.delimiter, skip_empty_lines: true });
  // pipeline, not pipe: a read error reaches the parser, and so the loop, instead of leaving it waiting.
  pipeline(source, parser).catch(() => {});
  // A read from the start meets the header; one from an offset is given it.
  let header = from > 0 ? start?.header : undefined;
  let row = start?.row ?? 0;
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { bytes: number } }>) {
      if (!header) {
        header = checkHeader(input, record);
        continue;
      }
      row++;
      if (record.length !== header.length) throw rowError(input, row, CSV_PROBLEMS.CSV_RECORD_INCONSISTENT_FIELDS_LENGTH!);
      const cells: Record<string, unknown> = {};
      for (let i = 0; i < header.length; i++) cells[header[i]!] = record[i];
      yield { cells, end: from + info.bytes, header };
    }
  } catch (error) {
    if (error instanceof InputError) throw error;
    if (isReadError(error)) throw readError(input, error);
    const code = (error as { code?: string }).code ?? '';
    throw rowError(input, row + 1, CSV_PROBLEMS[code] ?? `cannot be read as CSV (${code || 'parse error'})`);
  } finally {
    // Destroying the parser only unpipes the file, which would stay open, paused, until the
    // process exits: one descriptor per batch read that stops before the end.
    source.destroy();
    parser.destroy();
  }
  if (!header) throw new InputError(`${input.label}: the file is empty, with no header row; a CSV input starts with a header naming its columns`, { subject: input.label });
}

/** The header's names, or an InputError naming a declared column it lacks. */
function checkHeader(input: InputFile, record: string[]): string[] {
  const header = record.map((name) => name.trim());
  const missing = Object.keys(input.declaration.columns).filter((column) => !header.includes(column));
  if (missing.length) {
    throw new InputError(`${input.label}: the header has no column ${missing.map((m) => `'${m}'`).join(', ')}; the snippet declares ${Object.keys(input.declaration.columns).join(', ')}`, {
      subject: input.label,
    });
  }
  const twice = header.find((name, i) => header.indexOf(name) !== i);
  if (twice) throw new InputError(`${input.label}: the header names column '${twice}' twice; give each column one name`, { subject: input.label });
  return header;
}

const NEWLINE = 0x0a;

async function* ndjsonRecords(input: InputFile, start: ReadStart | undefined): AsyncGenerator<RawRecord> {
  let offset = start?.byte ?? 0;
  let row = start?.row ?? 0;
  let pending: Buffer[] = [];
  const stream = createReadStream(input.file, { start: offset });
  const record = (line: Buffer, end: number): RawRecord | undefined => {
    const text = line.toString('utf8').trim();
    if (!text) return undefined;
    row++;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw rowError(input, row, 'is not valid JSON');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw rowError(input, row, 'is not a JSON object');
    return { cells: value as Record<string, unknown>, end };
  };
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let from = 0;
      for (let at = chunk.indexOf(NEWLINE); at !== -1; at = chunk.indexOf(NEWLINE, from)) {
        const line = pending.length ? Buffer.concat([...pending, chunk.subarray(from, at)]) : chunk.subarray(from, at);
        pending = [];
        offset += line.length + 1;
        const parsed = record(line, offset);
        if (parsed) yield parsed;
        from = at + 1;
      }
      if (from < chunk.length) pending.push(chunk.subarray(from));
    }
    const last = Buffer.concat(pending);
    const parsed = record(last, offset + last.length);
    if (parsed) yield parsed;
  } catch (error) {
    throw isReadError(error) ? readError(input, error) : error;
  } finally {
    stream.destroy();
  }
}

async function* jsonRecords(input: InputFile): AsyncGenerator<RawRecord> {
  const [{ parser }, { streamArray }, { default: chain }] = await Promise.all([import('stream-json'), import('stream-json/streamers/stream-array.js'), import('stream-chain')]);
  const pipeline = chain([createReadStream(input.file), parser(), streamArray()]);
  let row = 0;
  try {
    for await (const { value } of pipeline as AsyncIterable<{ value: unknown }>) {
      row++;
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw rowError(input, row, 'is not a JSON object');
      yield { cells: value as Record<string, unknown>, end: undefined };
    }
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw rowError(input, row + 1, 'cannot be read: the file must be a JSON array of objects');
  } finally {
    pipeline.destroy();
  }
}

/**
 * The raw records of `input`, from its first data row or from `start`. A JSON array has
 * no offsets to start from: it is always read from its beginning.
 */
export function rawRecords(input: InputFile, start?: ReadStart): AsyncGenerator<RawRecord> {
  switch (input.declaration.format) {
    case 'csv':
      return csvRecords(input, start);
    case 'ndjson':
      return ndjsonRecords(input, start);
    case 'json':
      return jsonRecords(input);
  }
}
