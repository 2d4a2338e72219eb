import { sql, type SQL } from 'drizzle-orm';
import type { SnippetDb } from './define-snippet.ts';
import { queryRows } from './database.ts';
import { qualifyTable, tableRef } from './table-names.ts';

/**
 * What a DELETE would do through foreign keys, found the way Django's deletion Collector
 * does it, on PostgreSQL's own catalog: starting from the rows the WHERE selects, follow
 * every foreign key that references a table with rows going away. CASCADE adds the
 * referencing rows (and follows them in turn, cycles included), SET NULL / SET DEFAULT
 * changes them, RESTRICT / NO ACTION blocks the delete unless those rows go too.
 */
export interface TableImpact {
  table: string;
  deleted: number;
  nulled: number;
  defaulted: number;
  /** Up to a few primary keys (or ctids, without a primary key) of affected rows. */
  sample: string[];
}

export interface ImpactBlocker {
  table: string;
  constraint: string;
  references: string;
  rows: number;
  sample: string[];
}

export interface ImpactReport {
  table: string;
  tables: TableImpact[];
  blocked: ImpactBlocker[];
}

interface ForeignKey {
  name: string;
  child: string;
  parent: string;
  childColumns: string[];
  parentColumns: string[];
  action: 'cascade' | 'set null' | 'set default' | 'restrict' | 'no action';
}

const ACTIONS: Record<string, ForeignKey['action']> = { c: 'cascade', n: 'set null', d: 'set default', r: 'restrict', a: 'no action' };
const CHUNK = 500;
const SAMPLE = 5;

async function foreignKeys(db: SnippetDb): Promise<ForeignKey[]> {
  const rows = await queryRows<{ name: string; child: string; parent: string; child_columns: string[]; parent_columns: string[]; action: string }>(
    db,
    sql`select con.conname as name,
               format('%s.%s', cn.nspname, c.relname) as child, format('%s.%s', pn.nspname, p.relname) as parent,
               array(select a.attname::text from unnest(con.conkey) with ordinality k(n, i) join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.n order by k.i) as child_columns,
               array(select a.attname::text from unnest(con.confkey) with ordinality k(n, i) join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.n order by k.i) as parent_columns,
               con.confdeltype as action
        from pg_constraint con
        join pg_class c on c.oid = con.conrelid join pg_namespace cn on cn.oid = c.relnamespace
        join pg_class p on p.oid = con.confrelid join pg_namespace pn on pn.oid = p.relnamespace
        where con.contype = 'f'`,
  );
  return rows.map((r) => ({
    name: r.name,
    child: r.child,
    parent: r.parent,
    childColumns: r.child_columns,
    parentColumns: r.parent_columns,
    action: ACTIONS[r.action] ?? 'no action',
  }));
}

async function primaryKeys(db: SnippetDb): Promise<Map<string, string[]>> {
  const rows = await queryRows<{ table: string; columns: string[] }>(
    db,
    sql`select format('%s.%s', n.nspname, c.relname) as table,
               array(select a.attname::text from unnest(i.indkey) with ordinality k(n, o) join pg_attribute a on a.attrelid = c.oid and a.attnum = k.n order by k.o) as columns
        from pg_index i join pg_class c on c.oid = i.indrelid join pg_namespace n on n.oid = c.relnamespace
        where i.indisprimary`,
  );
  return new Map(rows.map((r) => [r.table, r.columns]));
}

type Row = Record<string, unknown> & { ctid: string };

/** Columns a table's rows must carry: those other tables reference, and its primary key. */
function neededColumns(table: string, keys: ForeignKey[], pks: Map<string, string[]>): string[] {
  const columns = new Set(pks.get(table) ?? []);
  for (const fk of keys) if (fk.parent === table) fk.parentColumns.forEach((c) => columns.add(c));
  return [...columns];
}

function selectRows(table: string, columns: string[], predicate: SQL): SQL {
  const list = columns.length ? sql.join([sql`ctid::text as ctid`, ...columns.map((c) => sql`${sql.identifier(c)}::text as ${sql.identifier(c)}`)], sql`, `) : sql`ctid::text as ctid`;
  return sql`select ${list} from ${tableRef(table)} where ${predicate}`;
}

/** Rows of `fk.child` whose foreign key points at any of `parents`, a chunk of keys at a time. */
async function referencing(db: SnippetDb, fk: ForeignKey, parents: Row[], columns: string[]): Promise<Row[]> {
  const found: Row[] = [];
  const tuples = parents
    .map((row) => fk.parentColumns.map((c) => row[c] as string | null))
    .filter((values) => values.every((v) => v !== null));
  const childKey = sql`(${sql.join(fk.childColumns.map((c) => sql`${sql.identifier(c)}::text`), sql`, `)})`;
  for (let i = 0; i < tuples.length; i += CHUNK) {
    const chunk = tuples.slice(i, i + CHUNK).map((values) => sql`(${sql.join(values.map((v) => sql`${v}::text`), sql`, `)})`);
    found.push(...(await queryRows<Row>(db, selectRows(fk.child, columns, sql`${childKey} in (${sql.join(chunk, sql`, `)})`))));
  }
  return found;
}

function sampleOf(rows: Row[], pk: string[] | undefined): string[] {
  return rows.slice(0, SAMPLE).map((row) => (pk?.length ? pk.map((c) => row[c]).join(',') : row.ctid));
}

/**
 * The full effect of `delete from table where ...`, read only: counts per table of rows
 * deleted, set null or set to default, and the references that would block it.
 */
export async function analyseImpact(db: SnippetDb, table: string, where: SQL): Promise<ImpactReport> {
  const root = qualifyTable(table);
  const keys = await foreignKeys(db);
  const pks = await primaryKeys(db);
  const deleted = new Map<string, Map<string, Row>>();
  const queue: { table: string; rows: Row[] }[] = [];

  const collect = (tableName: string, rows: Row[]) => {
    const seen = deleted.get(tableName) ?? new Map<string, Row>();
    deleted.set(tableName, seen);
    const fresh = rows.filter((r) => !seen.has(r.ctid));
    for (const row of fresh) seen.set(row.ctid, row);
    if (fresh.length) queue.push({ table: tableName, rows: fresh });
  };
  collect(root, await queryRows<Row>(db, selectRows(root, neededColumns(root, keys, pks), where)));

  // Follow cascades to a fixed point: each row enters once, so cycles end.
  while (queue.length) {
    const { table: parent, rows } = queue.shift()!;
    for (const fk of keys.filter((k) => k.parent === parent && k.action === 'cascade')) {
      collect(fk.child, await referencing(db, fk, rows, neededColumns(fk.child, keys, pks)));
    }
  }

  // Then what the deletions do to rows that stay.
  const changed = new Map<string, { nulled: Map<string, Row>; defaulted: Map<string, Row> }>();
  const blocked: ImpactBlocker[] = [];
  for (const fk of keys.filter((k) => k.action !== 'cascade' && deleted.has(k.parent))) {
    const parents = [...deleted.get(fk.parent)!.values()];
    const going = deleted.get(fk.child);
    const staying = (await referencing(db, fk, parents, pks.get(fk.child) ?? [])).filter((r) => !going?.has(r.ctid));
    if (!staying.length) continue;
    if (fk.action === 'restrict' || fk.action === 'no action') {
      blocked.push({ table: fk.child, constraint: fk.name, references: fk.parent, rows: staying.length, sample: sampleOf(staying, pks.get(fk.child)) });
      continue;
    }
    const entry = changed.get(fk.child) ?? { nulled: new Map(), defaulted: new Map() };
    changed.set(fk.child, entry);
    for (const row of staying) (fk.action === 'set null' ? entry.nulled : entry.defaulted).set(row.ctid, row);
  }

  const tables = [...new Set([...deleted.keys(), ...changed.keys()])].sort().map((name) => {
    const gone = [...(deleted.get(name)?.values() ?? [])];
    const nulled = [...(changed.get(name)?.nulled.values() ?? [])];
    const defaulted = [...(changed.get(name)?.defaulted.values() ?? [])];
    return {
      table: name,
      deleted: gone.length,
      nulled: nulled.length,
      defaulted: defaulted.length,
      sample: sampleOf([...gone, ...nulled, ...defaulted], pks.get(name)),
    };
  });
  return { table: root, tables: tables.filter((t) => t.deleted || t.nulled || t.defaulted), blocked };
}

/** What `deleteSafely` may cascade into; anything else refuses the delete before it starts. */
export interface DeleteSafelyOptions {
  allowCascadeTo?: string[];
}

/**
 * Deletes only when the impact is what the snippet declared: no blocking reference and no
 * cascade (or SET NULL / SET DEFAULT) into a table not in `allowCascadeTo`.
 */
export async function deleteSafely(db: SnippetDb, table: string, where: SQL, options: DeleteSafelyOptions = {}): Promise<ImpactReport> {
  const report = await analyseImpact(db, table, where);
  if (report.blocked.length) {
    const b = report.blocked[0]!;
    throw new Error(`delete from ${report.table} is blocked: ${b.rows} row(s) of ${b.table} still reference it through ${b.constraint} (e.g. ${b.sample.join('; ')})`);
  }
  const allowed = new Set([report.table, ...(options.allowCascadeTo ?? []).map(qualifyTable)]);
  const unexpected = report.tables.filter((t) => !allowed.has(t.table));
  if (unexpected.length) {
    const list = unexpected.map((t) => `${t.table} (${t.deleted} deleted, ${t.nulled} nulled, ${t.defaulted} defaulted)`).join(', ');
    throw new Error(`delete from ${report.table} would reach ${list}; nothing was deleted, add the table to allowCascadeTo if that is intended`);
  }
  await db.execute(sql`delete from ${tableRef(report.table)} where ${where}`);
  return report;
}
