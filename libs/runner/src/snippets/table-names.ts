import { Column, getTableName, is, isTable, sql, type SQL, type Table } from 'drizzle-orm';
import { InputError } from '../errors.ts';

declare const qualified: unique symbol;

/**
 * A table as the runner names it inside: `schema.name`, both parts exactly as the catalog
 * spells them, unquoted (`public.User`, `billing.trades`). Only `tableName` and
 * `parseTableName` make one, so a value of this type has been checked.
 */
export type QualifiedTable = string & { readonly [qualified]: true };

/**
 * A table as a user names it: a drizzle table object (`users`), or a string with
 * PostgreSQL's rules (`trades`, `billing.trades`, `"User"`, `public."OrderLine"`).
 */
export type TableInput = string | Table;

/** A key column as a user names it: a drizzle column object (`users.id`) or its exact name. */
export type ColumnInput = string | Column;

const EXAMPLES = 'e.g. trades, billing.trades, "User" or public."User" (unquoted names fold to lower case, as in SQL)';
/** PostgreSQL's NAMEDATALEN - 1: a longer name is cut short by the server, so it names another table. */
const MAX_IDENTIFIER_BYTES = 63;

/**
 * Parses a table name written as in SQL: an unquoted identifier folds its ASCII letters to
 * lower case (`User` is `user`), a quoted one keeps its case and spells a quote as `""`;
 * an optional schema comes first (`"My Schema".t`), without one it is `public`, the
 * default search path's. `subject` names where the text came from, for the error (empty:
 * the caller puts the message in context).
 */
export function parseTableName(text: string, subject = 'table'): QualifiedTable {
  const fail = (why: string) => new InputError(`${subject ? `${subject} ` : ''}'${text}' is not a table name: ${why}; write it as ${EXAMPLES}`, { subject });
  const parts: string[] = [];
  let at = 0;
  const skipSpace = () => {
    while (at < text.length && /\s/.test(text[at]!)) at++;
  };
  for (;;) {
    skipSpace();
    if (text[at] === '"') {
      let name = '';
      for (at++; ; at++) {
        if (at >= text.length) throw fail('a quoted name has no closing "');
        if (text[at] === '"') {
          if (text[at + 1] !== '"') break;
          at++;
        }
        name += text[at];
      }
      at++;
      if (!name) throw fail('"" is an empty name');
      parts.push(name);
    } else {
      const word = /^[\p{L}_][\p{L}\p{N}_$]*/u.exec(text.slice(at))?.[0];
      if (!word) throw fail(at >= text.length ? 'a name is missing' : `unexpected '${text[at]}' at position ${at + 1}`);
      at += word.length;
      // PostgreSQL folds only ASCII letters of an unquoted name.
      parts.push(word.replace(/[A-Z]/g, (letter) => letter.toLowerCase()));
    }
    skipSpace();
    if (at >= text.length) break;
    if (text[at] !== '.') throw fail(`unexpected '${text[at]}' at position ${at + 1}`);
    at++;
  }
  if (parts.length > 2) throw fail('give at most a schema and a table, the database is the one DATABASE_URL names');
  const [schema, name] = parts.length === 2 ? (parts as [string, string]) : ['public', parts[0]!];
  return qualify(schema, name, fail);
}

function qualify(schema: string, name: string, fail: (why: string) => InputError): QualifiedTable {
  for (const part of [schema, name]) {
    if (Buffer.byteLength(part) > MAX_IDENTIFIER_BYTES) throw fail(`"${part}" is longer than PostgreSQL's ${MAX_IDENTIFIER_BYTES} bytes`);
  }
  // The internal form splits at the first dot (see tableParts); a dot in a table's name is fine.
  if (schema.includes('.')) throw fail(`the schema name "${schema}" holds a dot, which the runner cannot name`);
  return `${schema}.${name}` as QualifiedTable;
}

// drizzle keeps a table's schema and real name (an alias's too) under registered symbols,
// which any copy of drizzle-orm in the snippet's dependencies shares, unlike its classes.
const DRIZZLE_SCHEMA = Symbol.for('drizzle:Schema');
const DRIZZLE_ORIGINAL_NAME = Symbol.for('drizzle:OriginalName');

/** How an input appears in a message: a string as the user wrote it, a drizzle table by its qualified name. */
export function describeTableInput(input: unknown): string {
  return typeof input === 'string' ? input : isTable(input) ? spellTable(tableName(input)) : String(input);
}

/**
 * A table named by a drizzle table object or a string (see parseTableName): the one check
 * at the boundary, after which the runner trusts the name. A drizzle alias names the table
 * it aliases.
 */
export function tableName(input: TableInput, subject = 'table'): QualifiedTable {
  if (typeof input === 'string') return parseTableName(input, subject);
  if (isTable(input)) {
    const fields = input as unknown as Record<symbol, string | undefined>;
    const name = fields[DRIZZLE_ORIGINAL_NAME] ?? getTableName(input);
    const fail = (why: string) => new InputError(`${subject}: the drizzle table ${name} cannot be named: ${why}`, { subject });
    return qualify(fields[DRIZZLE_SCHEMA] ?? 'public', name, fail);
  }
  throw new InputError(`${subject} must be a drizzle table or a table name (${EXAMPLES}), not ${typeof input}`, { subject });
}

/**
 * The exact name of a key column of `table`: a string is the column's name as it is (a
 * column name is not folded here, as drizzle's own `sql.identifier` does not), a drizzle
 * column must belong to `table`.
 */
export function columnName(input: ColumnInput, table: QualifiedTable, subject = 'column'): string {
  if (typeof input === 'string') {
    if (!input) throw new InputError(`${subject} is empty; name a column of ${spellTable(table)}`, { subject });
    return input;
  }
  if (is(input, Column)) {
    const owner = tableName(input.table, subject);
    if (owner !== table) throw new InputError(`${subject} is a column of ${spellTable(owner)}, not of ${spellTable(table)}`, { subject });
    return input.name;
  }
  throw new InputError(`${subject} must be a drizzle column or a column name, not ${typeof input}`, { subject });
}

/** `public.User` gives ['public', 'User'], for catalog lookups by schema and name. */
export function tableParts(table: QualifiedTable): [schema: string, name: string] {
  const dot = table.indexOf('.');
  return [table.slice(0, dot), table.slice(dot + 1)];
}

/** A table name, qualified and quoted for a query: never interpolated as text. */
export function tableRef(table: QualifiedTable): SQL {
  const [schema, name] = tableParts(table);
  return sql`${sql.identifier(schema)}.${sql.identifier(name)}`;
}

/** An identifier as parseTableName must be given it: bare when folding keeps it, else quoted. */
function spellIdentifier(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replaceAll('"', '""')}"`;
}

/**
 * A table as a user must write it to name it again (`public."User"`); `short` leaves out
 * the `public.` that a name without a schema means anyway.
 */
export function spellTable(table: QualifiedTable, options: { short?: boolean } = {}): string {
  const [schema, name] = tableParts(table);
  return options.short && schema === 'public' ? spellIdentifier(name) : `${spellIdentifier(schema)}.${spellIdentifier(name)}`;
}
