import { sql, type SQL } from 'drizzle-orm';
import type { BatchKey, SnippetDb } from '../snippets/define-snippet.ts';
import { queryRows } from '../database/queries.ts';
import { requireTable } from '../checks/missing-tables.ts';
import { spellTable, tableParts, tableRef, type QualifiedTable } from '../snippets/table-names.ts';
import type { KeyRange } from '../store/walk-ranges.ts';

/**
 * A key as the database driver read it, as the walk keeps it: PGlite reads an int8 as a
 * BigInt, which JSON (the ranges' bounds and cursors) cannot hold, so it becomes the string
 * postgres.js reads it as. Exact above 2^53, and the server casts it back on comparison.
 */
export function asBatchKey(value: BatchKey | bigint): BatchKey {
  return typeof value === 'bigint' ? value.toString() : value;
}

const ROWS_PER_RANGE = 2_000;
const MAX_RANGES = 64;
/** Above this many rows (by the planner's estimate), boundaries come from a sample of pages. */
const EXACT_UP_TO = 200_000;
const ROWS_PER_PAGE_GUESS = 100;
const QUANTILES = Array.from({ length: MAX_RANGES - 1 }, (_, i) => ((i + 1) / MAX_RANGES).toFixed(6)).join(', ');

/**
 * Splits the rows `where` selects into ranges of about equal size, at key quantiles, in
 * one query. A big table is sampled (SYSTEM reads whole pages, so it costs a fraction of a
 * scan) and its row count extrapolated: quantiles and progress need no precision.
 */
export async function splitKeyRanges(db: SnippetDb, tableName: QualifiedTable, keyName: string, where: SQL): Promise<KeyRange[]> {
  const [schema, name] = tableParts(tableName);
  const key = sql`${sql.identifier(keyName)}`;
  const [stats] = await queryRows<{ estimate: number; pages: number }>(
    db,
    sql`select c.reltuples::float8 as estimate, (pg_relation_size(c.oid) / current_setting('block_size')::int)::float8 as pages
        from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = ${schema} and c.relname = ${name}`,
  );
  // A table never analysed has no row estimate (-1); its size in pages stands in for it.
  const estimate = Number(stats?.estimate ?? -1) >= 0 ? Number(stats!.estimate) : Number(stats?.pages ?? 0) * ROWS_PER_PAGE_GUESS;
  const percent = estimate > EXACT_UP_TO ? (100 * EXACT_UP_TO) / estimate : 100;
  const table = tableRef(tableName);
  const source = percent < 100 ? sql`${table} tablesample system (${sql.raw(percent.toFixed(4))})` : table;
  const [row] = await queryRows<{ n: number; bounds: (BatchKey | bigint | null)[] | null }>(
    db,
    sql`select count(*)::int as n, percentile_disc(array[${sql.raw(QUANTILES)}]::float8[]) within group (order by ${key}) as bounds
        from ${source} where ${where}`,
  );
  const total = Math.round(((row?.n ?? 0) * 100) / percent);
  const wanted = Math.min(MAX_RANGES, Math.max(1, Math.ceil(total / ROWS_PER_RANGE)));
  // The quantile at i/wanted is the (i * MAX_RANGES / wanted)-th of the 1/MAX_RANGES steps.
  const picked = Array.from({ length: wanted - 1 }, (_, i) => {
    const bound = row?.bounds?.[Math.round(((i + 1) * MAX_RANGES) / wanted) - 1];
    return bound === null || bound === undefined ? null : asBatchKey(bound);
  });
  const bounds = picked.filter((b, i, all): b is BatchKey => b !== null && b !== all[i - 1]);
  const edges = [null, ...bounds, null];
  const rows = Math.ceil(total / (edges.length - 1));
  return edges.slice(1).map((hi, i) => ({ lo: edges[i]!, hi, rows }));
}

/** Key types whose values survive the checkpoint's JSON exactly and order the same in SQL and JSON. */
const KEY_TYPES = new Set(['smallint', 'integer', 'bigint', 'numeric', 'text', 'character varying', 'uuid']);

/**
 * Why `keyName` cannot drive a walk of `tableName`, or undefined when it can: it must be
 * NOT NULL (a NULL key is never visited) and of a type the cursor stores exactly (a
 * timestamp would lose its microseconds in JavaScript). A table that does not exist is an
 * InputError saying which one `spelled` may mean.
 */
export async function unusableKey(db: SnippetDb, tableName: QualifiedTable, keyName: string, spelled: string): Promise<string | undefined> {
  const [schema, name] = tableParts(tableName);
  const [column] = await queryRows<{ type: string; not_null: boolean }>(
    db,
    sql`select format_type(a.atttypid, null) as type, a.attnotnull as not_null
        from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = ${schema} and c.relname = ${name} and a.attname = ${keyName} and a.attnum > 0 and not a.attisdropped`,
  );
  const fix = 'use a unique NOT NULL integer, text or uuid column, such as the primary key';
  const table = spellTable(tableName);
  if (!column) {
    await requireTable(db, tableName, 'batch() table', spelled);
    return `batch(): table ${table} has no column '${keyName}'; ${fix}`;
  }
  if (!KEY_TYPES.has(column.type)) return `batch(): key '${keyName}' of ${table} is ${column.type}; ${fix}`;
  if (!column.not_null) return `batch(): key '${keyName}' of ${table} may be NULL, and rows with a NULL key would never be visited; ${fix}`;
  return undefined;
}
