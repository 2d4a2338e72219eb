import { createRequire } from 'node:module';
import path from 'node:path';
import { Column, getTableColumns, is, isTable, type Table } from 'drizzle-orm';
import { getTableConfig, type PgTable } from 'drizzle-orm/pg-core';
import { describeCause, InputError } from '../errors.ts';
import { importModule } from '../snippets/import-module.ts';
import { suggestTable } from '../checks/missing-tables.ts';
import { parseTableName, spellTable, tableName, type QualifiedTable } from '../snippets/table-names.ts';

/**
 * A table of the service's drizzle schema, as a generated snippet names it: imported from
 * the schema module by its export name, walked or deleted by its one-column primary key.
 */
export interface SchemaTable {
  /** The module the snippet imports the table from, e.g. `@acme/app-db/schema`. */
  module: string;
  exportName: string;
  table: QualifiedTable;
  key: {
    /** The key's property on the drizzle table object (`users.id`). */
    property: string;
    /** Its TypeScript type in the snippet's params. */
    type: 'string' | 'number' | 'bigint';
    /** Its type in SQL, as drizzle declares it: `uuid`, `serial`, `bigint`, `text`... */
    sqlType: string;
  };
}

/** Where a repo records the service it was made for (see the snippet-repo generator). */
export const TEMPLATE_RECORD = 'snippets-template.json';

/** The service package a repo was made for, from the text of its snippets-template.json; `flag` is the option that needs it. */
export function serviceOfRecord(record: string | undefined, flag = '--table'): string {
  const service = record ? (JSON.parse(record) as { options?: { service?: string } }).options?.service : undefined;
  if (!service) {
    throw new InputError(`${flag}: ${TEMPLATE_RECORD} names no service, so the service's package cannot be found; add options.service to it`, { subject: flag.slice(2) });
  }
  return service;
}

/**
 * Resolves `module` from the first of `resolveFrom` that can (the repo first, as the
 * snippet resolves it) and imports it; undefined, with why in `errors`, when none can.
 */
export async function importFromFirst(module: string, resolveFrom: string[], errors: string[]): Promise<Record<string, unknown> | undefined> {
  for (const from of resolveFrom) {
    let file: string;
    try {
      file = createRequire(path.join(from, 'package.json')).resolve(module);
    } catch (error) {
      errors.push(describeCause(error));
      continue;
    }
    return (await importModule(file)) as Record<string, unknown>;
  }
  return undefined;
}

/** Imports the service's drizzle schema, `<service>/schema` or else the package itself. */
export async function loadServiceSchema(service: string, resolveFrom: string[]): Promise<{ module: string; exports: Record<string, unknown> }> {
  const errors: string[] = [];
  for (const module of [`${service}/schema`, service]) {
    const exports = await importFromFirst(module, resolveFrom, errors);
    if (exports) return { module, exports };
  }
  throw new InputError(`--table: cannot load the drizzle schema of ${service} (${errors[0]}); install the service in the repo first (npm install)`, { subject: 'table' });
}

function keyOf(exportName: string, table: Table): SchemaTable['key'] {
  const composite = getTableConfig(table as PgTable).primaryKeys[0];
  const primary = Object.entries(getTableColumns(table)).filter(([, column]) => is(column, Column) && column.primary);
  if (composite || primary.length !== 1) {
    const what = composite ? `a composite primary key (${composite.columns.map((c) => c.name).join(', ')})` : 'no primary key';
    throw new InputError(`--table ${exportName}: has ${what}; delete, batched and input snippets key their rows by one column, so start from --kind=basic`, { subject: 'table' });
  }
  const [property, column] = primary[0]!;
  const type = column.dataType === 'bigint' ? 'bigint' : column.dataType === 'number' ? 'number' : 'string';
  return { property, type, sqlType: column.getSQLType() };
}

/**
 * Finds `input` among the schema module's drizzle tables: by export name (`users`), by its
 * name in SQL exactly as drizzle declares it (`User`, `billing.trades`), or written with
 * PostgreSQL's rules (`"User"`, `public."User"`). A name that matches none says which
 * table it may mean.
 */
export function findSchemaTable(schema: { module: string; exports: Record<string, unknown> }, input: string): SchemaTable {
  const tables = Object.entries(schema.exports).filter((entry): entry is [string, Table] => isTable(entry[1]));
  const named = tables.map(([exportName, table]) => ({ exportName, table, qualified: tableName(table) }));
  const exact = input.includes('.') ? input : `public.${input}`;
  let parsed: QualifiedTable | undefined;
  try {
    parsed = parseTableName(input, '--table');
  } catch {
    parsed = undefined;
  }
  const found = named.find((t) => t.exportName === input) ?? named.find((t) => t.qualified === exact) ?? named.find((t) => t.qualified === parsed);
  if (!found) {
    const suggestion = suggestTable(parsed ?? (exact as QualifiedTable), named.map((t) => t.qualified));
    const match = named.find((t) => t.qualified === suggestion);
    const hint = match ? `did you mean ${spellTable(match.qualified, { short: true })} (export ${match.exportName})?` : `its tables are ${named.map((t) => t.exportName).join(', ') || 'none'}`;
    throw new InputError(`--table ${input}: no such table in ${schema.module}; ${hint}`, { subject: 'table' });
  }
  return { module: schema.module, exportName: found.exportName, table: found.qualified, key: keyOf(found.exportName, found.table) };
}
