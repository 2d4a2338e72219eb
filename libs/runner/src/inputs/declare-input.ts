/**
 * How a snippet declares an external input: its format and the columns of its rows. The
 * data itself never enters git; `snippets.lock` pins it by digest (see input-lock.ts).
 */

/** A column's type; `'text?'` (any type with `?`) lets an empty CSV cell or a JSON null be null. */
export type ColumnType = 'text' | 'uuid' | 'email' | 'integer' | 'bigint' | 'numeric' | 'boolean' | 'date' | 'timestamp';
export type ColumnSpec = ColumnType | `${ColumnType}?`;
export type InputColumns = Record<string, ColumnSpec>;

export const COLUMN_TYPES: readonly ColumnType[] = ['text', 'uuid', 'email', 'integer', 'bigint', 'numeric', 'boolean', 'date', 'timestamp'];

/**
 * A column's value in a row. bigint and numeric stay strings, exact as PostgreSQL reads
 * them; date is `YYYY-MM-DD` and timestamp an ISO 8601 string, passed to SQL as written.
 */
type ValueOf<T extends string> = T extends 'integer' ? number : T extends 'boolean' ? boolean : string;
export type ColumnValue<S extends ColumnSpec> = S extends `${infer T}?` ? ValueOf<T> | null : ValueOf<S>;
export type InputRow<C extends InputColumns> = { [K in keyof C]: ColumnValue<C[K]> };

export type InputFormat = 'csv' | 'ndjson' | 'json';

/** The file extension a format's local copy and its default location carry. */
export const FORMAT_EXTENSION: Record<InputFormat, string> = { csv: 'csv', ndjson: 'ndjson', json: 'json' };

export interface InputOptions<C extends InputColumns> {
  /** The columns each row must have, by name, with their types. Columns not listed are dropped. */
  columns: C;
  /**
   * Columns whose values a snippet's `log` and failure messages mask (see masking.ts).
   * Default every column: inputs are sensitive unless said otherwise.
   */
  sensitive?: (keyof C & string)[];
}

export interface CsvOptions<C extends InputColumns> extends InputOptions<C> {
  /** The field delimiter. Default `,`. */
  delimiter?: string;
}

const INPUT_BRAND = Symbol.for('@snippets/runner.input');

export interface InputDeclaration<C extends InputColumns = InputColumns> {
  readonly format: InputFormat;
  readonly columns: C;
  /** The masked columns, resolved: every column unless `sensitive` narrowed it. */
  readonly sensitive: readonly string[];
  readonly delimiter: string;
  readonly [INPUT_BRAND]: true;
}

export type InputDeclarations = Record<string, InputDeclaration>;
export type RowOf<D> = D extends InputDeclaration<infer C> ? InputRow<C> : never;

function declare<C extends InputColumns>(format: InputFormat, options: CsvOptions<C>): InputDeclaration<C> {
  return Object.freeze({
    format,
    columns: Object.freeze({ ...options.columns }),
    sensitive: Object.freeze([...(options.sensitive ?? Object.keys(options.columns))]),
    delimiter: options.delimiter ?? ',',
    [INPUT_BRAND]: true as const,
  });
}

/** A CSV file with a header row naming its columns. */
export function csv<C extends InputColumns>(options: CsvOptions<C>): InputDeclaration<C> {
  return declare('csv', options);
}

/** Newline-delimited JSON: one object per line. */
export function ndjson<C extends InputColumns>(options: InputOptions<C>): InputDeclaration<C> {
  return declare('ndjson', options);
}

/** A JSON array of objects, read as a stream (the array need not fit in memory). */
export function json<C extends InputColumns>(options: InputOptions<C>): InputDeclaration<C> {
  return declare('json', options);
}

export function isInputDeclaration(value: unknown): value is InputDeclaration {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[INPUT_BRAND] === true;
}

/** `type` without its `?`, and whether it allows null. */
export function parseColumnSpec(spec: ColumnSpec): { type: ColumnType; nullable: boolean } {
  const nullable = spec.endsWith('?');
  return { type: (nullable ? spec.slice(0, -1) : spec) as ColumnType, nullable };
}

/** What an input's rows are, as a snippet reads them: an async iterable, read from the local copy each time. */
export interface InputRows<Row> extends AsyncIterable<Row> {
  readonly name: string;
  /** Data rows in the input (the CSV header not counted), as the lock pins them. */
  readonly count: number;
  readonly sha256: string;
  /** Every row in an array: for small inputs; an input over 100,000 rows is refused (iterate it, or batch() over it). */
  all(): Promise<Row[]>;
}

export type SnippetInputs<I extends InputDeclarations> = { readonly [K in keyof I]: InputRows<RowOf<I[K]>> };
