import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';

/**
 * The database a domain function works with: any drizzle PostgreSQL handle, on either
 * driver (postgres.js or PGlite), or a transaction of one. A snippet passes its `db`, so
 * the function's writes commit or roll back with the snippet.
 */
// `any` schema: the functions import the tables they use, so the handle's own schema does not matter.
export type ServiceDb = PgDatabase<PgQueryResultHKT, any>;
