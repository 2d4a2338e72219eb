import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { SnippetDb } from '../database/snippet-db.ts';
import { queryRows, toStatement } from '../database/queries.ts';
import { parseTableName, type QualifiedTable } from '../snippets/table-names.ts';

/**
 * One line per schema object outside the `snippets` schema and PostgreSQL's own:
 * tables and their columns (types, defaults, nullability), constraints, indexes,
 * triggers, functions, views and sequences' definitions. Two fingerprints differ
 * exactly when the schema changed; data never enters it. The ledger's schema-check function
 * embeds this query and is named after it (see store/closing-statement.ts): a change here
 * installs a new function the next time the ledger is opened for writing.
 */
const FINGERPRINT = sql`
  with user_ns as (
    select oid, nspname from pg_namespace
    where nspname not in ('snippets', 'pg_catalog', 'information_schema', 'pg_toast') and nspname not like 'pg\_temp%' and nspname not like 'pg\_toast\_temp%'
  )
  select entry from (
    select format('relation %I.%I kind=%s', n.nspname, c.relname, c.relkind) as entry
      from pg_class c join user_ns n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
    union all
    select format('column %I.%I.%I %s%s%s', n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                  case when a.attnotnull then ' not null' else '' end,
                  coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), ''))
      from pg_attribute a join pg_class c on c.oid = a.attrelid join user_ns n on n.oid = c.relnamespace
      left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
      where a.attnum > 0 and not a.attisdropped and c.relkind in ('r', 'p', 'v', 'm', 'f')
    union all
    select format('constraint %I.%I.%I %s', n.nspname, c.relname, con.conname, pg_get_constraintdef(con.oid))
      from pg_constraint con join pg_class c on c.oid = con.conrelid join user_ns n on n.oid = c.relnamespace
    union all
    select format('index %s', pg_get_indexdef(i.indexrelid))
      from pg_index i join pg_class c on c.oid = i.indrelid join user_ns n on n.oid = c.relnamespace
    union all
    select format('trigger %s', pg_get_triggerdef(t.oid))
      from pg_trigger t join pg_class c on c.oid = t.tgrelid join user_ns n on n.oid = c.relnamespace
      where not t.tgisinternal
    union all
    select format('function %I.%I(%s) returns %s %s', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid),
                  pg_get_function_result(p.oid), md5(coalesce(p.prosrc, '')))
      from pg_proc p join user_ns n on n.oid = p.pronamespace
    union all
    select format('view %I.%I %s', n.nspname, c.relname, pg_get_viewdef(c.oid))
      from pg_class c join user_ns n on n.oid = c.relnamespace where c.relkind in ('v', 'm')
    union all
    select format('sequence %I.%I %s start %s increment %s min %s max %s cycle %s', n.nspname, c.relname,
                  format_type(s.seqtypid, null), s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcycle)
      from pg_sequence s join pg_class c on c.oid = s.seqrelid join user_ns n on n.oid = c.relnamespace
  ) entries
  order by entry`;

/** The fingerprint query as text, to embed in another statement. */
export const FINGERPRINT_SQL = toStatement(FINGERPRINT).text;

/**
 * A fingerprint in 32 characters: md5 of its entries, one per line, in their order. The
 * same as `md5(string_agg(entry, E'\n' order by entry))` over FINGERPRINT_SQL in
 * PostgreSQL, so a statement can compare the schema with a baseline without its entries.
 */
export function fingerprintHash(entries: string[]): string {
  return createHash('md5').update(entries.join('\n')).digest('hex');
}

export async function schemaFingerprint(db: SnippetDb): Promise<string[]> {
  return (await queryRows<{ entry: string }>(db, FINGERPRINT)).map((r) => r.entry);
}

/**
 * The tables (ordinary, partitioned, foreign) a fingerprint lists, so a snippet's touches
 * can be checked against the schema without another query. Its names are quoted by
 * PostgreSQL's %I, as SQL would name them, which is what parseTableName reads.
 */
export function fingerprintTables(entries: readonly string[]): QualifiedTable[] {
  return entries.flatMap((entry) => {
    const found = /^relation (.+) kind=([rpf])$/s.exec(entry);
    return found ? [parseTableName(found[1]!)] : [];
  });
}

export interface SchemaDifference {
  added: string[];
  removed: string[];
}

/** Pure: what changed between two fingerprints. */
export function compareFingerprints(before: string[], after: string[]): SchemaDifference {
  const old = new Set(before);
  const now = new Set(after);
  return { added: after.filter((e) => !old.has(e)), removed: before.filter((e) => !now.has(e)) };
}

/** A fingerprint's entries and their hash (see fingerprintHash). */
export interface Fingerprint {
  entries: string[];
  hash: string;
}

/**
 * The schema a run started from. A snippet's transaction that wrote to the catalogs is
 * compared with it: read inside that transaction, the snippet's own changes would be in
 * it, so it is read outside, once, before the first snippet needs it.
 */
export class SchemaBaseline {
  private fingerprint?: Fingerprint;

  async read(db: SnippetDb): Promise<Fingerprint> {
    return (this.fingerprint ??= await SchemaBaseline.take(db));
  }

  /** Reads the schema again; true when another session changed it since the last read. */
  async refresh(db: SnippetDb): Promise<boolean> {
    const old = await this.read(db);
    this.fingerprint = await SchemaBaseline.take(db);
    return old.hash !== this.fingerprint.hash;
  }

  private static async take(db: SnippetDb): Promise<Fingerprint> {
    const entries = await schemaFingerprint(db);
    return { entries, hash: fingerprintHash(entries) };
  }
}
