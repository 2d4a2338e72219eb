/** Rows a snippet inserted, updated and deleted, per qualified table name. */
export type TableChanges = Record<string, { inserted: number; updated: number; deleted: number }>;

/** The catalogs that every change the schema fingerprint sees writes to: any schema change does, and so do temp tables, GRANT and TRUNCATE. */
const WATCHED_CATALOGS = ['pg_class', 'pg_attribute', 'pg_attrdef', 'pg_constraint', 'pg_index', 'pg_trigger', 'pg_proc', 'pg_rewrite', 'pg_sequence'];

/**
 * Rows this session's transaction inserted, updated and deleted per table, from
 * PostgreSQL's own statistics: the pg_stat_get_xact_* functions behind
 * pg_stat_xact_all_tables, without the view's join over indexes. The ledger's tables and
 * temp tables are left out; of the catalogs, it keeps WATCHED_CATALOGS. Every object
 * created after initdb has an oid from 16384 (FirstNormalObjectId) up, also once the oid
 * counter wraps around, so the user's tables are found through pg_class's oid index
 * instead of scanning the few hundred catalog rows before them, twice per snippet.
 * Plain SQL text, sent as is by the runner's prepared statements.
 */
export const COUNTED_TABLES = `
    select schema, rel, pg_stat_get_xact_tuples_inserted(relid) as ins,
           pg_stat_get_xact_tuples_updated(relid) as upd, pg_stat_get_xact_tuples_deleted(relid) as del
    from (
      select n.nspname as schema, n.nspname || '.' || c.relname as rel, c.oid as relid
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.oid >= 16384 and c.relkind in ('r', 'm', 'p')
        and n.nspname not in ('snippets', 'information_schema') and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp%'
      union all
      select 'pg_catalog', 'pg_catalog.' || name, relid
      from (values ${WATCHED_CATALOGS.map((name) => `('${name}', 'pg_catalog.${name}'::regclass::oid)`).join(', ')}) catalogs (name, relid)
    ) relations`;

/**
 * The counts as one json value, so they share a round trip with other work. They are not
 * zero at a transaction's start: PostgreSQL keeps counting until it flushes its
 * statistics, so a transaction compares counts read before and after its work.
 */
export const CHANGE_COUNTS = `(
  select json_build_object(
    'catalog', coalesce(sum(ins + upd + del) filter (where schema = 'pg_catalog'), 0),
    'tables', coalesce(json_object_agg(rel, json_build_array(ins, upd, del)) filter (where schema <> 'pg_catalog'), '{}'))
  from (${COUNTED_TABLES}) counts
  where ins + upd + del > 0)`;

export interface ChangeCounts {
  /** Per table, `schema.table`: rows inserted, updated and deleted. */
  tables: Record<string, [ins: number, upd: number, del: number]>;
  /** Catalog rows written. */
  catalog: number;
}

export function changesBetween(before: ChangeCounts, after: ChangeCounts): TableChanges {
  const changes: TableChanges = {};
  for (const [table, [ins, upd, del]] of Object.entries(after.tables).sort(([a], [b]) => a.localeCompare(b))) {
    const [baseIns, baseUpd, baseDel] = before.tables[table] ?? [0, 0, 0];
    const inserted = ins - baseIns;
    const updated = upd - baseUpd;
    const deleted = del - baseDel;
    if (inserted || updated || deleted) changes[table] = { inserted, updated, deleted };
  }
  return changes;
}

/** The sum of two tables' changes, by table name. */
export function addChanges(total: TableChanges, more: TableChanges): TableChanges {
  const sum: TableChanges = structuredClone(total);
  for (const [table, c] of Object.entries(more)) {
    const base = sum[table] ?? { inserted: 0, updated: 0, deleted: 0 };
    sum[table] = { inserted: base.inserted + c.inserted, updated: base.updated + c.updated, deleted: base.deleted + c.deleted };
  }
  return Object.fromEntries(Object.entries(sum).sort(([a], [b]) => a.localeCompare(b)));
}
