/**
 * drizzle's migrator as a service runs it at start-up: migrate() over the drizzle-kit
 * folder in the working directory (`drizzle/`, with meta/_journal.json). It applies every
 * pending migration in one transaction.
 */
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';

const client = postgres(process.env.DATABASE_URL, { max: 1, onnotice: () => {} });
try {
  await migrate(drizzle({ client }), { migrationsFolder: 'drizzle' });
} finally {
  await client.end();
}
