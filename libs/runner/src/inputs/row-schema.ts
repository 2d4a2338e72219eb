/**
 * An input's row schema, built with valibot from the declared columns. A refused row is
 * described by its column and what the column expects, never by the value it held: input
 * data is sensitive, and valibot's own messages quote what they received.
 */
import * as v from 'valibot';
import { parseColumnSpec, type ColumnType, type InputColumns, type InputDeclaration } from './declare-input.ts';

/** A raw cell: CSV gives strings, JSON any value; undefined when the column is absent from the row. */
type RawCell = unknown;

const INTEGER = /^[+-]?\d+$/;
const NUMERIC = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)?$/;
const BOOLEANS: Record<string, boolean> = { true: true, false: false, t: true, f: false, '1': true, '0': false, yes: true, no: false };

/** What each type expects, as a refusal says it. */
const EXPECTS: Record<ColumnType, string> = {
  text: 'text',
  uuid: 'a uuid',
  email: 'an email address',
  integer: 'a whole number within ±2^53',
  bigint: 'a whole number',
  numeric: 'a decimal number',
  boolean: 'true or false (t/f, 1/0, yes/no)',
  date: 'a date as YYYY-MM-DD',
  timestamp: 'an ISO 8601 timestamp',
};

const TYPE_SCHEMAS: Record<ColumnType, v.GenericSchema<string, unknown>> = {
  text: v.string(),
  uuid: v.pipe(v.string(), v.uuid()),
  email: v.pipe(v.string(), v.email()),
  integer: v.pipe(v.string(), v.regex(INTEGER), v.transform(Number), v.safeInteger()),
  bigint: v.pipe(v.string(), v.regex(INTEGER)),
  numeric: v.pipe(v.string(), v.regex(NUMERIC)),
  boolean: v.pipe(
    v.string(),
    v.transform((s) => s.toLowerCase()),
    v.check((s) => s in BOOLEANS),
    v.transform((s) => BOOLEANS[s]!),
  ),
  date: v.pipe(v.string(), v.isoDate()),
  timestamp: v.pipe(v.string(), v.regex(TIMESTAMP), v.check((s) => !Number.isNaN(Date.parse(s.replace(' ', 'T'))))),
};

/** A cell as the schema reads it: JSON scalars as their text, an empty CSV cell as null where the column allows null. */
function normalise(cell: RawCell, type: ColumnType, nullable: boolean): unknown {
  if (cell === null) return null;
  if (cell === '' && (nullable || type !== 'text')) return nullable ? null : cell;
  if (typeof cell === 'number' || typeof cell === 'boolean') return String(cell);
  return cell;
}

export interface RowProblem {
  column: string;
  problem: string;
}

export type RowCheck = { ok: true; row: Record<string, unknown> } | { ok: false; problem: RowProblem };

/** Validates raw rows against a declaration: the declared columns, converted; other columns dropped. */
export class RowSchema {
  private readonly columns: { name: string; type: ColumnType; nullable: boolean; schema: v.GenericSchema<unknown, unknown> }[];

  constructor(declaration: Pick<InputDeclaration, 'columns'>) {
    this.columns = Object.entries(declaration.columns as InputColumns).map(([name, spec]) => {
      const { type, nullable } = parseColumnSpec(spec);
      const schema = nullable ? v.nullable(TYPE_SCHEMAS[type]) : TYPE_SCHEMAS[type];
      return { name, type, nullable, schema: schema as v.GenericSchema<unknown, unknown> };
    });
  }

  get columnNames(): string[] {
    return this.columns.map((c) => c.name);
  }

  check(raw: Record<string, RawCell>): RowCheck {
    const row: Record<string, unknown> = {};
    for (const column of this.columns) {
      const cell = raw[column.name];
      if (cell === undefined) return { ok: false, problem: { column: column.name, problem: 'is missing' } };
      if (typeof cell === 'object' && cell !== null) return { ok: false, problem: { column: column.name, problem: `holds a nested value where ${EXPECTS[column.type]} belongs` } };
      const result = v.safeParse(column.schema, normalise(cell, column.type, column.nullable));
      if (!result.success) {
        const problem = normalise(cell, column.type, column.nullable) === '' || cell === null ? `is empty, and the column is ${column.type}, not ${column.type}?` : `is not ${EXPECTS[column.type]}`;
        return { ok: false, problem: { column: column.name, problem } };
      }
      row[column.name] = result.output;
    }
    return { ok: true, row };
  }
}
