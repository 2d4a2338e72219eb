import { sql, type SQL } from 'drizzle-orm';

/** `trades` means `public.trades`, as in PostgreSQL's default search path. */
export function qualifyTable(table: string): string {
  return table.includes('.') ? table : `public.${table}`;
}

/** `trades` gives ['public', 'trades'], for catalog lookups by schema and name. */
export function tableParts(table: string): [schema: string, name: string] {
  return qualifyTable(table).split('.') as [string, string];
}

/** A table name, qualified and quoted for a query: never interpolated as text. */
export function tableRef(table: string): SQL {
  const [schema, name] = tableParts(table);
  return sql`${sql.identifier(schema)}.${sql.identifier(name)}`;
}
