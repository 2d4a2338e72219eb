import { sql } from 'drizzle-orm';
import type { SnippetDb } from '../database/snippet-db.ts';
import { queryRows } from '../database/queries.ts';
import { InputError } from '../errors.ts';
import { spellTable, tableParts, type QualifiedTable } from '../snippets/table-names.ts';

/**
 * A name that matches no table, answered with the table it most likely means: `"User"`
 * for `user` (unquoted names fold to lower case, so mixed-case tables are easy to miss),
 * or a near spelling. Pure but for `listTables` and `requireTable`.
 */

/** Every table a user could name, outside PostgreSQL's own schemas. */
export async function listTables(db: SnippetDb): Promise<QualifiedTable[]> {
  const rows = await queryRows<{ schema: string; name: string }>(
    db,
    sql`select n.nspname as schema, c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r', 'p', 'f') -- what a snippet can write to: ordinary, partitioned and foreign tables
          and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp%'
        order by 1, 2`,
  );
  // Straight from the catalog, so already exact: no parsing.
  return rows.map((r) => `${r.schema}.${r.name}` as QualifiedTable);
}

/** Levenshtein distance, for near spellings. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The table `wanted` most likely means, if any: one that differs only in case (in its own
 * schema first), else the nearest spelling within a third of the name's length, preferring
 * its own schema. Ties go to the first in name order, so the answer is stable.
 */
export function suggestTable(wanted: QualifiedTable, tables: readonly QualifiedTable[]): QualifiedTable | undefined {
  const [schema, name] = tableParts(wanted);
  const lower = name.toLowerCase();
  let best: { table: QualifiedTable; score: number } | undefined;
  for (const table of [...tables].sort()) {
    if (table === wanted) continue;
    const [otherSchema, otherName] = tableParts(table);
    const apart = distance(lower, otherName.toLowerCase());
    if (apart > Math.max(1, Math.floor(name.length / 3))) continue;
    // Case alone (distance 0) beats any spelling; the own schema beats another at equal distance.
    const score = apart * 2 + (otherSchema === schema ? 0 : 1);
    if (!best || score < best.score) best = { table, score };
  }
  return best?.table;
}

/**
 * The error for a name that matches no table: `--table user: no such table; did you mean
 * "User"?`, the suggestion written as the user must type it. `spelled` is the name as
 * the user gave it.
 */
export function noSuchTable(subject: string, spelled: string, wanted: QualifiedTable, tables: readonly QualifiedTable[]): InputError {
  const suggestion = suggestTable(wanted, tables);
  const hint = suggestion
    ? `did you mean ${spellTable(suggestion, { short: true })}?`
    : `no table ${spellTable(wanted)} in this database (unquoted names fold to lower case: write a mixed-case table quoted, as "User")`;
  return new InputError(`${subject} ${spelled}: no such table; ${hint}`, { subject });
}

/** Throws `noSuchTable` unless `wanted` exists; the tables are listed only then. */
export async function requireTable(db: SnippetDb, wanted: QualifiedTable, subject: string, spelled: string): Promise<void> {
  const [schema, name] = tableParts(wanted);
  const [found] = await queryRows<{ exists: boolean }>(
    db,
    sql`select exists (select from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = ${schema} and c.relname = ${name}) as exists`,
  );
  if (!found?.exists) throw noSuchTable(subject, spelled, wanted, await listTables(db));
}
