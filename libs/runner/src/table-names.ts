import { sql, type SQL } from 'drizzle-orm';

/** `trades` means `public.trades`, as in PostgreSQL's default search path. */
export function qualifyTable(table: string): string {
  return table.includes('.') ? table : `public.${table}`;
}

/** A table name, qualified and quoted for a query: never interpolated as text. */
export function tableRef(table: string): SQL {
  const [schema, name] = qualifyTable(table).split('.') as [string, string];
  return sql`${sql.identifier(schema)}.${sql.identifier(name)}`;
}
