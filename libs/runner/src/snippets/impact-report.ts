/** What a snippet's `impact` and `deleteSafely` report (impact/impact.ts computes it): part of the snippet API. */
import type { TableInput } from './table-names.ts';

export interface ImpactBlocker {
  table: string;
  constraint: string;
  references: string;
  rows: number;
  sample: string[];
}

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

export interface ImpactReport {
  table: string;
  tables: TableImpact[];
  blocked: ImpactBlocker[];
}

/** What `deleteSafely` may cascade into; anything else refuses the delete before it starts. */
export interface DeleteSafelyOptions {
  /** Drizzle tables or names as in SQL (`'"Message"'` for a mixed-case table), like `table`. */
  allowCascadeTo?: TableInput[];
}
