import { fileURLToPath } from 'node:url';

/** The absolute path of schema.sql: the whole schema, as `drizzle-kit export` prints it. */
export const schemaFile = fileURLToPath(new URL('../schema.sql', import.meta.url));
