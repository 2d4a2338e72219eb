import { sql, type SQL } from 'drizzle-orm';
import type { DeleteSafelyOptions, ImpactBlocker, ImpactReport, TableImpact } from '../snippets/impact-report.ts';
import type { SnippetDb } from '../database/snippet-db.ts';
import { queryRows } from '../database/queries.ts';
import { listTables, noSuchTable } from '../checks/missing-tables.ts';
import { describeTableInput, spellTable, tableName, tableParts, tableRef, type QualifiedTable, type TableInput } from '../snippets/table-names.ts';




interface ForeignKey {
  name: string;
  child: QualifiedTable;
  parent: QualifiedTable;
  childColumns: string[];
  parentColumns: string[];
  action: 'cascade' | 'set null' | 'set default' | 'restrict' | 'no action';
}

interface Catalog {
  /** Whether the root table exists: asked here, so the common case costs no extra round trip. */
  exists: boolean;
  keys: ForeignKey[];
  /** Primary key columns by table; a table without one is missing. */
  pks: Map<string, string[]>;
}

const ACTIONS: Record<string, ForeignKey['action']> = { c: 'cascade', n: 'set null', d: 'set default', r: 'restrict', a: 'no action' };
const SAMPLE = 5;

/** Every foreign key and primary key in one round trip, as JSON text so both drivers read it alike. */
async function readCatalog(db: SnippetDb, root: QualifiedTable): Promise<Catalog> {
  const [schema, name] = tableParts(root);
  const [row] = await queryRows<{ exists: boolean; keys: string; pks: string }>(
    db,
    sql`select
          exists (select from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = ${schema} and c.relname = ${name}) as exists,
          (select coalesce(json_agg(json_build_object(
                    'name', con.conname,
                    'child', format('%s.%s', cn.nspname, c.relname), 'parent', format('%s.%s', pn.nspname, p.relname),
                    'childColumns', array(select a.attname::text from unnest(con.conkey) with ordinality k(n, i) join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.n order by k.i),
                    'parentColumns', array(select a.attname::text from unnest(con.confkey) with ordinality k(n, i) join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.n order by k.i),
                    'action', con.confdeltype) order by con.oid), '[]')::text
           from pg_constraint con
           join pg_class c on c.oid = con.conrelid join pg_namespace cn on cn.oid = c.relnamespace
           join pg_class p on p.oid = con.confrelid join pg_namespace pn on pn.oid = p.relnamespace
           where con.contype = 'f') as keys,
          (select coalesce(json_object_agg(format('%s.%s', n.nspname, c.relname),
                    array(select a.attname::text from unnest(i.indkey) with ordinality k(n, o) join pg_attribute a on a.attrelid = c.oid and a.attnum = k.n order by k.o)), '{}')::text
           from pg_index i join pg_class c on c.oid = i.indrelid join pg_namespace n on n.oid = c.relnamespace
           -- only tables a report can name: the root and those holding a foreign key
           where i.indisprimary and (format('%s.%s', n.nspname, c.relname) = ${root} or exists (select from pg_constraint f where f.contype = 'f' and f.conrelid = c.oid))) as pks`,
  );
  const keys = (JSON.parse(row!.keys) as (Omit<ForeignKey, 'action'> & { action: string })[]).map((k) => ({ ...k, action: ACTIONS[k.action] ?? 'no action' }));
  return { exists: row!.exists, keys, pks: new Map(Object.entries(JSON.parse(row!.pks) as Record<string, string[]>)) };
}

/** The key of row `c` as the report shows it: its primary key, or its ctid without one. */
function keyText(pk: string[] | undefined): SQL {
  return pk?.length ? sql`concat_ws(',', ${sql.join(pk.map((c) => sql`c.${sql.identifier(c)}`), sql`, `)})` : sql`c.ctid::text`;
}

/**
 * Rows `c` of `fk.child` referencing the rows of `fk.parent` (number `parent` in `doomed`)
 * that go away. `doomed` holds ctids, so the parent row is read back by ctid, which is
 * cheaper than carrying every referenced column through the recursion.
 */
function referencing(fk: ForeignKey, doomed: SQL, parent: number): SQL {
  const on = sql.join(
    fk.childColumns.map((c, i) => sql`c.${sql.identifier(c)} = p.${sql.identifier(fk.parentColumns[i]!)}`),
    sql` and `,
  );
  return sql`${doomed} w join ${tableRef(fk.parent)} p on p.ctid = w.id join ${tableRef(fk.child)} c on ${on} where w.tbl = ${parent}`;
}

/** One line of the report, counted in SQL: a table's deleted rows, its nulled or defaulted ones, or one blocking key. */
type Group = { kind: 'deleted' | 'set null' | 'set default'; table: QualifiedTable } | { kind: 'blocked'; key: ForeignKey };

/**
 * The full effect of `delete from table where ...`, read only: counts per table of rows
 * deleted, set null or set to default, and the references that would block it.
 *
 * One statement does it all in the database: temporary tables would be simpler, but
 * PostgreSQL refuses CREATE TABLE, even a temporary one, in a read-only transaction.
 */
export async function analyseImpact(db: SnippetDb, table: TableInput, where: SQL, subject = 'impact()'): Promise<ImpactReport> {
  return analyseTable(db, tableName(table, subject), where, { subject, spelled: describeTableInput(table) });
}

/**
 * analyseImpact for a table already checked: `named` says how the user named it, for the
 * error when no such table exists.
 */
export async function analyseTable(db: SnippetDb, root: QualifiedTable, where: SQL, named: { subject: string; spelled: string }): Promise<ImpactReport> {
  const { exists, keys, pks } = await readCatalog(db, root);
  if (!exists) throw noSuchTable(named.subject, named.spelled, root, await listTables(db));

  // The tables cascades can reach, numbered: their number tags rows in `doomed`.
  const tables: QualifiedTable[] = [root];
  for (let i = 0; i < tables.length; i++) {
    for (const fk of keys) if (fk.parent === tables[i] && fk.action === 'cascade' && !tables.includes(fk.child)) tables.push(fk.child);
  }
  const cascades = keys.filter((k) => k.action === 'cascade' && tables.includes(k.parent));
  const others = keys.filter((k) => k.action !== 'cascade' && tables.includes(k.parent));

  // Rows going away as (table number, ctid). UNION, not UNION ALL: a row found again ends
  // its branch, so cycles and self references stop. The recursive term may read `doomed`
  // only once, hence `w`.
  const steps = cascades.map((fk) => sql`select ${tables.indexOf(fk.child)}::int, c.ctid from ${referencing(fk, sql`w`, tables.indexOf(fk.parent))}`);
  const recursion = steps.length ? sql` union (with w as (select * from doomed) ${sql.join(steps, sql` union all `)})` : sql``;

  // Rows that stay but reference rows that go: one group per child table and action (a row
  // changed through two keys counts once), one per blocking key.
  const groups: Group[] = tables.map((t) => ({ kind: 'deleted', table: t }));
  const groupOf = (fk: ForeignKey): number => {
    const kind = fk.action;
    if (kind !== 'set null' && kind !== 'set default') return groups.push({ kind: 'blocked', key: fk }) - 1;
    const index = groups.findIndex((g) => g.kind === kind && g.table === fk.child);
    return index >= 0 ? index : groups.push({ kind, table: fk.child }) - 1;
  };
  const staying = others.map((fk) => {
    const child = tables.indexOf(fk.child);
    const stays = child >= 0 ? sql` and not exists (select from doomed g where g.tbl = ${child} and g.id = c.ctid)` : sql``;
    return sql`select ${groupOf(fk)}::int, c.ctid, ${keyText(pks.get(fk.child))} from ${referencing(fk, sql`doomed`, tables.indexOf(fk.parent))}${stays}`;
  });
  const affected = staying.length ? sql.join(staying, sql` union `) : sql`select null::int, null::tid, null::text where false`;

  // Per group its count and a few keys. Deleted rows' keys are read back by ctid, for a
  // handful of rows only.
  const deletedGroups = tables.map(
    (t, i) => sql`select ${i}::int as grp, count(*)::int as rows, array(select ${keyText(pks.get(t))} from ${tableRef(t)} c
                   where c.ctid = any(array(select id from doomed where tbl = ${i} limit ${SAMPLE})) order by c.ctid) as sample
                  from doomed where tbl = ${i}`,
  );
  const counts = await queryRows<{ grp: number; rows: number; sample: string[] }>(
    db,
    sql`with recursive
          doomed(tbl, id) as (select 0, ctid from ${tableRef(root)} where ${where}${recursion}),
          affected(grp, id, key) as (${affected})
        ${sql.join(deletedGroups, sql` union all `)}
        union all
        select grp, count(*)::int, (array_agg(key order by id))[1:${SAMPLE}] from affected group by grp`,
  );

  const found = new Map(counts.map((c) => [c.grp, c]));
  const tally = (kind: Group['kind'], table: QualifiedTable) => found.get(groups.findIndex((g) => g.kind === kind && 'table' in g && g.table === table)) ?? { rows: 0, sample: [] };
  const report = [...new Set(groups.flatMap((g) => ('table' in g ? [g.table] : [])))].sort().map((name) => {
    const [gone, nulled, defaulted] = [tally('deleted', name), tally('set null', name), tally('set default', name)];
    return {
      table: name,
      deleted: gone.rows,
      nulled: nulled.rows,
      defaulted: defaulted.rows,
      sample: [...gone.sample, ...nulled.sample, ...defaulted.sample].slice(0, SAMPLE),
    };
  });
  const blocked = groups.flatMap((g, i) => {
    const { rows, sample } = found.get(i) ?? { rows: 0, sample: [] };
    return g.kind === 'blocked' && rows ? [{ table: g.key.child, constraint: g.key.name, references: g.key.parent, rows, sample }] : [];
  });
  return { table: root, tables: report.filter((t) => t.deleted || t.nulled || t.defaulted), blocked };
}


/**
 * Deletes only when the impact is what the snippet declared: no blocking reference and no
 * cascade (or SET NULL / SET DEFAULT) into a table not in `allowCascadeTo`.
 */
export async function deleteSafely(db: SnippetDb, table: TableInput, where: SQL, options: DeleteSafelyOptions = {}): Promise<ImpactReport> {
  const subject = 'deleteSafely()';
  const root = tableName(table, subject);
  const allowed = new Set<string>([root, ...(options.allowCascadeTo ?? []).map((t) => tableName(t, `${subject} allowCascadeTo`))]);
  const report = await analyseTable(db, root, where, { subject, spelled: describeTableInput(table) });
  if (report.blocked.length) {
    const b = report.blocked[0]!;
    throw new Error(`delete from ${spellTable(root)} is blocked: ${b.rows} row(s) of ${spellTable(b.table as QualifiedTable)} still reference it through ${b.constraint} (e.g. ${b.sample.join('; ')})`);
  }
  const unexpected = report.tables.filter((t) => !allowed.has(t.table));
  if (unexpected.length) {
    // Spelled as allowCascadeTo must name them, quotes and all.
    const list = unexpected.map((t) => `${spellTable(t.table as QualifiedTable)} (${t.deleted} deleted, ${t.nulled} nulled, ${t.defaulted} defaulted)`).join(', ');
    throw new Error(`delete from ${spellTable(root)} would reach ${list}; nothing was deleted, add the table to allowCascadeTo if that is intended`);
  }
  await db.execute(sql`delete from ${tableRef(root)} where ${where}`);
  return report;
}
