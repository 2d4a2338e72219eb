import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';

/** The drizzle database a snippet works with: inside its transaction, on either driver. */
export type SnippetDb = PgDatabase<PgQueryResultHKT, Record<string, unknown>>;
