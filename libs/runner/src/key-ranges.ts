import { sql, type SQL } from 'drizzle-orm';
import type { BatchKey, SnippetDb } from './define-snippet.ts';
import { queryRows } from './database.ts';

/**
 * A slice of a walk's key space, `(lo, hi]`; null is unbounded. Workers claim ranges, so
 * there are several per walk even for one worker: a worker that finishes early takes the
 * next free range, and a killed worker's range is picked up by the others.
 */
export interface KeyRange {
  lo: BatchKey | null;
  hi: BatchKey | null;
  /** Rows the range held when the walk started, for progress. */
  rows: number;
}

const ROWS_PER_RANGE = 2_000;
const MAX_RANGES = 64;
/** Above this, boundaries come from a sample of the table's pages instead of every key. */
const EXACT_UP_TO = 200_000;

/** Splits the rows `where` selects into ranges of about equal size, at key quantiles. */
export async function splitKeyRanges(db: SnippetDb, table: SQL, key: SQL, where: SQL): Promise<KeyRange[]> {
  const [{ count } = { count: 0 }] = await queryRows<{ count: number }>(db, sql`select count(*)::int as count from ${table} where ${where}`);
  const wanted = Math.min(MAX_RANGES, Math.max(1, Math.ceil(count / ROWS_PER_RANGE)));
  if (wanted === 1) return [{ lo: null, hi: null, rows: count }];

  const fractions = Array.from({ length: wanted - 1 }, (_, i) => ((i + 1) / wanted).toFixed(6)).join(', ');
  // SYSTEM sampling reads whole pages: cheap on a big table, and quantiles need no precision.
  const percent = Math.min(100, (100 * EXACT_UP_TO) / count);
  const source = count > EXACT_UP_TO ? sql`${table} tablesample system (${sql.raw(percent.toFixed(4))})` : table;
  const [row] = await queryRows<{ bounds: (BatchKey | null)[] | null }>(
    db,
    sql`select percentile_disc(array[${sql.raw(fractions)}]::float8[]) within group (order by ${key}) as bounds from ${source} where ${where}`,
  );
  const bounds = (row?.bounds ?? []).filter((b, i, all): b is BatchKey => b !== null && b !== all[i - 1]);
  const edges = [null, ...bounds, null];
  const rows = Math.ceil(count / (edges.length - 1));
  return edges.slice(1).map((hi, i) => ({ lo: edges[i]!, hi, rows }));
}
